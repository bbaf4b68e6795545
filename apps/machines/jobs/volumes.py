"""Volume jobs: create, attach, detach, delete, and the follow-up that watches a volume
until the cloud has settled it."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from apps.clouds import dto
from apps.clouds.base import CloudDriver
from apps.clouds.errors import CloudError, InvalidOperation, NotFound
from apps.core.resources.jobs import (
    clearing_task,
    cloud_delete,
    follow_up,
    job_row,
    settle_change,
    settle_create,
    wait,
)
from apps.core.resources.services import observe, row_delete
from apps.jobs.context import JobContext
from apps.jobs.registry import job_kind

from ..models import VOLUME_SETTLING, Machine, Volume

#: Seconds a volume usually takes to settle: a waiting job's progress moves by them.
VOLUME_EXPECTED = 5.0


def volume_observe(volume: Volume, seen: dto.Volume, *, task: str | None = None) -> None:
    """Store what the cloud says about the volume (and the task, when given)."""
    machine_id = (
        Machine.objects.filter(tenancy=volume.tenancy_id, cloud_id=seen.machine_id).values_list("pk", flat=True).first()
        if seen.machine_id
        else None
    )
    fields = {
        "cloud_id": seen.id,
        "status": seen.status.value,
        "size_gb": seen.size_gb,
        "device": seen.device or "",
        "machine_id": machine_id,
    }
    observe(volume, fields | ({"task": task} if task is not None else {}))


def _wait_volume(ctx: JobContext, driver: CloudDriver, volume: Volume) -> dto.Volume:
    seen = wait(
        ctx,
        f"The volume {volume.name}",
        lambda: driver.volume_get(volume_id=volume.cloud_id),
        lambda v: v.status not in VOLUME_SETTLING,
        expected=VOLUME_EXPECTED,
    )
    volume_observe(volume, seen)
    return seen


@job_kind("machines.volume_create", label="Create volume", settle=settle_create)
def volume_create_job(ctx: JobContext) -> dict[str, Any]:
    volume, driver = job_row(ctx, Volume)

    def create() -> dto.Volume:
        try:
            return driver.volume_create(name=volume.name, size_gb=volume.size_gb)
        except CloudError:
            row_delete(volume)
            raise

    seen = _change(ctx, driver, volume, "Create the volume", create, "Wait until available")
    if seen.status != dto.VolumeStatus.AVAILABLE:
        raise InvalidOperation(f"The cloud could not create the volume {volume.name} ({seen.status.value}).")
    return {"volume": volume.pk, "status": volume.status}


def _change(
    ctx: JobContext, driver: CloudDriver, volume: Volume, first: str, call: Callable[[], dto.Volume], then: str
) -> dto.Volume:
    """Two stages: `first` asks the cloud (`call`), `then` waits until the volume has settled."""
    ctx.plan([first, then])
    with clearing_task(volume):
        if not ctx.done(first):  # run again after a wait: the cloud has it
            with ctx.stage(first):
                volume_observe(volume, call())
        with ctx.stage(then):
            return _wait_volume(ctx, driver, volume)


@job_kind("machines.volume_attach", label="Attach volume", settle=settle_change)
def volume_attach_job(ctx: JobContext) -> dict[str, Any]:
    volume, driver = job_row(ctx, Volume)
    machine = Machine.objects.get(pk=ctx.job.params["machine"], tenancy=volume.tenancy)
    attach = partial(driver.volume_attach, volume_id=volume.cloud_id, machine_id=machine.cloud_id)
    seen = _change(ctx, driver, volume, "Attach the volume", attach, "Wait until in use")
    ctx.log(f"{volume.name} is attached to {machine.name} as {seen.device or 'a new disk'}.")
    return {"volume": volume.pk, "machine": machine.pk, "device": volume.device}


@job_kind("machines.volume_detach", label="Detach volume", settle=settle_change)
def volume_detach_job(ctx: JobContext) -> dict[str, Any]:
    volume, driver = job_row(ctx, Volume)
    detach = partial(driver.volume_detach, volume_id=volume.cloud_id)
    _change(ctx, driver, volume, "Detach the volume", detach, "Wait until available")
    return {"volume": volume.pk, "status": volume.status}


@job_kind("machines.volume_delete", label="Delete volume", resumable=True, settle=settle_change)
def volume_delete_job(ctx: JobContext) -> dict[str, Any]:
    volume, driver = job_row(ctx, Volume)
    ctx.plan(["Delete the volume"])
    with clearing_task(volume), ctx.stage("Delete the volume"):
        if volume.cloud_id:
            cloud_delete(
                ctx, lambda: driver.volume_delete(volume_id=volume.cloud_id), "The cloud had deleted it already."
            )
        row_delete(volume)
    return {"deleted": volume.name}


@job_kind("machines.volume_observe", label="Check volume", max_attempts=2, resumable=True)
def volume_observe_job(ctx: JobContext) -> dict[str, Any]:
    """As `machines.observe`, for a volume left attaching, detaching or creating."""
    volume, driver = job_row(ctx, Volume)
    ctx.plan(["Wait until the cloud has finished"])
    with ctx.stage("Wait until the cloud has finished"):
        try:
            seen = _wait_volume(ctx, driver, volume)
        except NotFound:
            ctx.log(f"The cloud no longer has the volume {volume.name}.")
            row_delete(volume)
            return {"volume": ctx.job.target_id, "status": "gone"}
    return {"volume": volume.pk, "status": seen.status.value}


follow_up(Volume, "machines.volume_observe")
