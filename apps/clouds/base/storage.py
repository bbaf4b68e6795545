"""The storage family: volumes."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from .. import dto
from .core import DriverCore, unsupported_as


class StorageDriver(DriverCore):
    capability_flags: ClassVar[tuple[str, ...]] = ("volumes",)
    optional_operations: ClassVar[dict[str, str]] = unsupported_as(
        "volumes", ("volumes", "volume_get", "volume_create", "volume_attach", "volume_detach", "volume_delete")
    )

    if TYPE_CHECKING:

        def volumes(self) -> list[dto.Volume]: ...
        def volume_get(self, *, volume_id: str) -> dto.Volume: ...
        def volume_create(self, *, name: str, size_gb: int) -> dto.Volume: ...
        def volume_attach(self, *, volume_id: str, machine_id: str) -> dto.Volume: ...
        def volume_detach(self, *, volume_id: str) -> dto.Volume: ...
        def volume_delete(self, *, volume_id: str) -> None: ...
