"""The reservations family: host capacity and leases (Blazar's)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

from .. import dto
from .core import DriverCore


class ReservationsDriver(DriverCore):
    #: host_capacity: `hosts`; leases: `lease*`.
    capability_flags: ClassVar[tuple[str, ...]] = ("host_capacity", "leases")

    def hosts(self) -> list[dto.Host]:
        self._unsupported("a view of host capacity")

    def leases(self) -> list[dto.Lease]:
        self._unsupported("reservations")

    def lease_get(self, *, lease_id: str) -> dto.Lease:
        self._unsupported("reservations")

    def lease_create(
        self, *, name: str, start: datetime, end: datetime, reservations: Sequence[dto.ReservationRequest]
    ) -> dto.Lease:
        self._unsupported("reservations")

    def lease_update(self, *, lease_id: str, end: datetime) -> dto.Lease:
        self._unsupported("reservations")

    def lease_delete(self, *, lease_id: str) -> None:
        """End the lease now (before its start: cancel it)."""
        self._unsupported("reservations")
