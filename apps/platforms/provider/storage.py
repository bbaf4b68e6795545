"""`atrium_volume`: a volume made through the tenancy's driver, written as Atrium's Volume row.

Attaching it (`machine_id`, a machine's cloud id) changes in place: detached from the machine
it was on, attached to the new one. Its name and size cannot change on the cloud: replaced.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from django.conf import settings
from tf.schema import Attribute, Schema  # type: ignore[import-untyped]
from tf.types import Number, String  # type: ignore[import-untyped]

from apps.clouds import dto
from apps.clouds.errors import BadInput, CloudError, NotFound
from apps.core.names import name_clean
from apps.core.resources.services import changed, row_delete, task_set
from apps.machines.jobs.volumes import volume_observe
from apps.machines.models import VOLUME_SETTLING, Volume
from apps.machines.services import VOLUME_MAX_GB

from .provider import AtriumResource, PlanState, State, idle_after, reported, settle, unknown_if_changed


class VolumeResource(AtriumResource):
    kind = "volume"
    schema = Schema(
        description="A volume on the tenancy's cloud (Atrium's volume row), attached to a machine or not.",
        attributes=[
            Attribute("id", String(), computed=True, description="The cloud's id of the volume."),
            Attribute("name", String(), required=True, requires_replace=True),
            Attribute("size_gb", Number(), required=True, requires_replace=True),
            Attribute("machine_id", String(), optional=True, description="The machine it is attached to (its id)."),
            Attribute("status", String(), computed=True),
            Attribute("device", String(), computed=True, description="Where the machine sees it (/dev/vdb)."),
        ],
    )

    def validate(self, diags: Any, type_name: str, config: State) -> None:
        super().validate(diags, type_name, config)
        name, size = config.get("name"), config.get("size_gb")
        if isinstance(name, str):
            try:
                if name_clean(name, max_length=255, error=BadInput, what="volume name") != name:
                    diags.add_error("A volume's name has no spaces around it.", path=["name"])
            except BadInput as exc:
                diags.add_error(exc.message, path=["name"])
        if isinstance(size, int | float) and (size != int(size) or not 1 <= size <= VOLUME_MAX_GB):
            diags.add_error(f"A whole number of GB from 1 to {VOLUME_MAX_GB}.", path=["size_gb"])

    def plan(self, ctx: Any, current: PlanState, planned: State) -> State:
        return unknown_if_changed(ctx, planned, "machine_id", ("status", "device"))

    @reported(keep_prior=False)
    def create(self, ctx: Any, planned: State) -> State | None:
        tenancy, name, size_gb = self.tenancy, planned["name"], int(planned["size_gb"])
        if Volume.objects.filter(tenancy=tenancy, name=name).exists():
            raise BadInput(f"{tenancy.name} already has a volume called {name}.", fields={"name": ["Taken."]})
        volume = Volume.objects.create(tenancy=tenancy, name=name, size_gb=size_gb, task="creating")
        changed(volume, created=True)
        try:
            seen = self.driver.volume_create(name=name, size_gb=size_gb)
        except CloudError:
            row_delete(volume)
            raise
        volume_observe(volume, seen)
        try:
            seen = self._settled(volume)
            if planned.get("machine_id"):
                seen = self._attach(volume, planned["machine_id"])
        except CloudError as exc:
            ctx.diagnostics.add_error(f"{ctx.type_name}: {exc.message}")  # made: kept (tainted)
        finally:
            task_set(volume, "")
        return planned | _seen(seen)

    def _settled(self, volume: Volume) -> dto.Volume:
        def look() -> dto.Volume:
            seen = self.driver.volume_get(volume_id=volume.cloud_id)
            volume_observe(volume, seen)
            return seen

        seen = settle(
            look,
            lambda v: v.status not in VOLUME_SETTLING,
            what=f"The volume {volume.name}",
            timeout=float(settings.ATRIUM_MACHINE_TIMEOUT),
        )
        if seen.status == dto.VolumeStatus.ERROR:
            raise CloudError(f"The cloud could not change the volume {volume.name} (it is in error).")
        return seen

    def _attach(self, volume: Volume, machine_id: str | None) -> dto.Volume:
        """Attach the volume to `machine_id` (None: to nothing), detaching it first from another."""
        seen = self.driver.volume_get(volume_id=volume.cloud_id)
        if seen.machine_id and seen.machine_id != machine_id:
            task_set(volume, "detaching")
            volume_observe(volume, self.driver.volume_detach(volume_id=volume.cloud_id))
            seen = self._settled(volume)
        if machine_id and seen.machine_id != machine_id:
            task_set(volume, "attaching")
            volume_observe(volume, self.driver.volume_attach(volume_id=volume.cloud_id, machine_id=machine_id))
            seen = self._settled(volume)
        return seen

    @reported(keep_prior=True)
    def read(self, ctx: Any, current: State) -> State | None:
        seen = self.refreshed(
            Volume, current["id"], lambda: self.driver.volume_get(volume_id=current["id"]), volume_observe
        )
        return None if seen is None else current | _seen(seen)

    @reported(keep_prior=True)
    def update(self, ctx: Any, current: State, planned: State) -> State | None:
        volume = self.row_of(Volume, current["id"])
        with idle_after(volume):
            seen = self._attach(volume, planned.get("machine_id"))
        return planned | _seen(seen)

    @reported(keep_prior=True)
    def delete(self, ctx: Any, current: State) -> State | None:
        volume = self.row(Volume, current["id"])
        with idle_after(volume), suppress(NotFound):
            if volume is not None:
                self._attach(volume, None)
                task_set(volume, "deleting")
            self.driver.volume_delete(volume_id=current["id"])
        if volume is not None:
            row_delete(volume)
        return None


def _seen(seen: dto.Volume) -> State:
    return {"id": seen.id, "machine_id": seen.machine_id, "status": seen.status.value, "device": seen.device or ""}
