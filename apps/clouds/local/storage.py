"""The local cloud's storage family: volumes, attached as /dev/vdb, /dev/vdc..."""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet

from .. import dto
from ..errors import BadInput, InvalidOperation
from ..models import LocalVolume
from .base import LocalBase, operation
from .convert import volume_dto

S = dto.MachineStatus


class LocalStorage(LocalBase):
    def _volumes(self) -> QuerySet[LocalVolume]:
        return self._project_rows(LocalVolume).select_related("machine")

    def _volume(self, volume_id: str) -> LocalVolume:
        return self._project_row(self._volumes(), volume_id, "volume")

    @operation
    def volumes(self) -> list[dto.Volume]:
        return [volume_dto(v) for v in self._volumes()]

    @operation
    def volume_get(self, *, volume_id: str) -> dto.Volume:
        return volume_dto(self._volume(volume_id))

    @operation
    def volume_create(self, *, name: str, size_gb: int) -> dto.Volume:
        if not isinstance(size_gb, int) or size_gb < 1:
            raise BadInput("A volume needs a size of at least 1 GB.", fields={"size_gb": ["At least 1."]})
        with transaction.atomic():
            self._check_quota(volumes=1, volume_gb=size_gb)
            volume = LocalVolume.objects.create(
                cloud_id=self.cloud_id, project_id=self.project_id, name=name or "", size_gb=size_gb
            )
        return volume_dto(volume)

    @operation
    def volume_attach(self, *, volume_id: str, machine_id: str) -> dto.Volume:
        with transaction.atomic():
            volume = self._volume(volume_id)
            machine = self._machine(machine_id, lock=True)
            if volume.machine_id is not None:
                raise InvalidOperation(
                    f"The volume {volume.name or volume.uid} is already attached to {volume.machine}."
                )
            if machine.status not in (S.ACTIVE, S.STOPPED):
                raise InvalidOperation(
                    f"The machine {machine.name} is {machine.status}; attach volumes when it is ACTIVE or STOPPED."
                )
            taken = set(machine.volumes.values_list("device", flat=True))
            device = next(
                f"/dev/vd{letter}" for letter in "bcdefghijklmnopqrstuvwxyz" if f"/dev/vd{letter}" not in taken
            )
            volume.machine = machine
            volume.device = device
            volume.save(update_fields=["machine", "device"])
        return volume_dto(volume)

    @operation
    def volume_detach(self, *, volume_id: str) -> dto.Volume:
        volume = self._volume(volume_id)
        if volume.machine_id is None:
            raise InvalidOperation(f"The volume {volume.name or volume.uid} is not attached to anything.")
        volume.machine = None
        volume.device = ""
        volume.save(update_fields=["machine", "device"])
        return volume_dto(volume)

    @operation
    def volume_delete(self, *, volume_id: str) -> None:
        volume = self._volume(volume_id)
        if volume.machine_id is not None:
            raise InvalidOperation(
                f"The volume {volume.name or volume.uid} is attached to {volume.machine}; detach it first."
            )
        volume.delete()
