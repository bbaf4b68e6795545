"""The OpenStack storage family (Cinder): volumes, attached through Nova."""

from __future__ import annotations

from .. import dto
from ..errors import BadInput, InvalidOperation
from .base import OpenStackBase
from .convert import volume_dto
from .sdk import translate_errors


class OpenStackStorage(OpenStackBase):
    def _volumes_offered(self) -> None:
        if not self.capabilities().volumes:
            self._unsupported("volumes")

    @translate_errors
    def volumes(self) -> list[dto.Volume]:
        self._volumes_offered()
        return [volume_dto(v) for v in self._conn.block_storage.volumes(details=True)]

    @translate_errors
    def volume_get(self, *, volume_id: str) -> dto.Volume:
        self._volumes_offered()
        return volume_dto(self._conn.block_storage.get_volume(volume_id))

    @translate_errors
    def volume_create(self, *, name: str, size_gb: int) -> dto.Volume:
        self._volumes_offered()
        if size_gb < 1:
            raise BadInput("A volume needs a size of at least 1 GB.", fields={"size_gb": ["At least 1."]})
        return volume_dto(self._conn.block_storage.create_volume(name=name, size=size_gb))

    @translate_errors
    def volume_attach(self, *, volume_id: str, machine_id: str) -> dto.Volume:
        self._volumes_offered()
        self._conn.compute.create_volume_attachment(machine_id, volume_id=volume_id)
        return self.volume_get(volume_id=volume_id)

    @translate_errors
    def volume_detach(self, *, volume_id: str) -> dto.Volume:
        self._volumes_offered()
        volume = self._conn.block_storage.get_volume(volume_id)
        if not volume.attachments:
            raise InvalidOperation(f"The volume {volume.name or volume.id} is not attached to anything.")
        self._conn.compute.delete_volume_attachment(volume.id, volume.attachments[0]["server_id"])
        return self.volume_get(volume_id=volume_id)

    @translate_errors
    def volume_delete(self, *, volume_id: str) -> None:
        self._volumes_offered()
        self._conn.block_storage.delete_volume(volume_id, ignore_missing=False)
