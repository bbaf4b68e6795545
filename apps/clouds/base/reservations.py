"""The reservations family: host capacity and leases (Blazar's)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from .. import dto
from .core import DriverCore, unsupported_as


class ReservationsDriver(DriverCore):
    #: host_capacity: `hosts`; leases: `lease*`.
    capability_flags: ClassVar[tuple[str, ...]] = ("host_capacity", "leases")

    optional_operations: ClassVar[dict[str, str]] = {
        **unsupported_as("a view of host capacity", ("hosts",)),
        **unsupported_as("reservations", ("leases", "lease_get", "lease_create", "lease_update", "lease_delete")),
    }

    if TYPE_CHECKING:

        def hosts(self) -> list[dto.Host]: ...
        def leases(self) -> list[dto.Lease]: ...
        def lease_get(self, *, lease_id: str) -> dto.Lease: ...
        def lease_create(
            self, *, name: str, start: datetime, end: datetime, reservations: Sequence[dto.ReservationRequest]
        ) -> dto.Lease: ...
        def lease_update(self, *, lease_id: str, end: datetime) -> dto.Lease: ...
        def lease_delete(self, *, lease_id: str) -> None:
            """End the lease now (before its start: cancel it)."""
