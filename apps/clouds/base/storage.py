"""The storage family: volumes."""

from __future__ import annotations

from typing import ClassVar

from .. import dto
from .core import DriverCore


class StorageDriver(DriverCore):
    capability_flags: ClassVar[tuple[str, ...]] = ("volumes",)

    def volumes(self) -> list[dto.Volume]:
        self._unsupported("volumes")

    def volume_get(self, *, volume_id: str) -> dto.Volume:
        self._unsupported("volumes")

    def volume_create(self, *, name: str, size_gb: int) -> dto.Volume:
        self._unsupported("volumes")

    def volume_attach(self, *, volume_id: str, machine_id: str) -> dto.Volume:
        self._unsupported("volumes")

    def volume_detach(self, *, volume_id: str) -> dto.Volume:
        self._unsupported("volumes")

    def volume_delete(self, *, volume_id: str) -> None:
        self._unsupported("volumes")
