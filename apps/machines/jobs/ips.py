"""External IP jobs: allocate, attach, detach, release."""

from __future__ import annotations

from typing import Any

from apps.clouds import dto
from apps.clouds.errors import CloudError
from apps.clouds.registry import driver_for_tenancy
from apps.core.resources.jobs import clearing_task, cloud_delete, job_row, job_target, settle_change, settle_create
from apps.core.resources.services import observe, row_delete
from apps.jobs.context import JobContext
from apps.jobs.registry import job_kind

from ..models import ExternalIp, Machine
from .machines import wait_address


def ip_observe(ip: ExternalIp, seen: dto.ExternalIp, *, task: str | None = None) -> None:
    """Store what the cloud says about the IP (and the task, when given)."""
    machine_id = (
        Machine.objects.filter(tenancy=ip.tenancy_id, cloud_id=seen.machine_id).values_list("pk", flat=True).first()
        if seen.machine_id
        else None
    )
    fields = {"cloud_id": seen.id, "address": seen.address, "machine_id": machine_id}
    observe(ip, fields | ({"task": task} if task is not None else {}))


@job_kind("machines.ip_allocate", label="Allocate external IP", settle=settle_create)
def ip_allocate_job(ctx: JobContext) -> dict[str, Any]:
    ip, driver = job_row(ctx, ExternalIp)
    ctx.plan(["Allocate the address"])
    try:
        with clearing_task(ip), ctx.stage("Allocate the address"):
            ip_observe(ip, driver.external_ip_allocate())
            ctx.log(f"Allocated {ip.address}.")
    except CloudError:
        row_delete(ip)  # nothing was allocated: the request leaves no row behind
        raise
    return {"address": ip.address}


@job_kind("machines.ip_attach", label="Attach external IP", settle=settle_change)
def ip_attach_job(ctx: JobContext) -> dict[str, Any]:
    ip = job_target(ctx, ExternalIp)
    machine = Machine.objects.get(pk=ctx.job.params["machine"], tenancy=ip.tenancy)
    driver = driver_for_tenancy(ip.tenancy, user=ctx.job.requested_by)
    ctx.plan(["Attach the address"])
    with clearing_task(ip), ctx.stage("Attach the address"):
        if ip.machine_id != machine.pk:  # else attached in an earlier run, which waited for the cloud to show it
            ip_observe(ip, driver.external_ip_attach(ip_id=ip.cloud_id, machine_id=machine.cloud_id))
        wait_address(ctx, driver, machine, ip.address)
        ctx.log(f"{ip.address} now reaches {machine.name}.")
    return {"address": ip.address, "machine": machine.pk}


@job_kind("machines.ip_detach", label="Detach external IP", settle=settle_change)
def ip_detach_job(ctx: JobContext) -> dict[str, Any]:
    ip = job_target(ctx, ExternalIp)
    # The machine it leaves (named when the detach was asked for: a run after a wait finds it detached).
    left = ctx.job.params.get("machine")
    machine = Machine.objects.filter(pk=left, tenancy=ip.tenancy).first() if left else ip.machine
    driver = driver_for_tenancy(ip.tenancy, user=ctx.job.requested_by)
    ctx.plan(["Detach the address"])
    with clearing_task(ip), ctx.stage("Detach the address"):
        if ip.machine_id is not None:  # else detached in an earlier run, which waited for the cloud to show it
            ip_observe(ip, driver.external_ip_detach(ip_id=ip.cloud_id))
        wait_address(ctx, driver, machine, None)
        ctx.log(f"Detached {ip.address}.")
    return {"address": ip.address}


@job_kind("machines.ip_release", label="Release external IP", resumable=True, settle=settle_change)
def ip_release_job(ctx: JobContext) -> dict[str, Any]:
    ip, driver = job_row(ctx, ExternalIp)
    ctx.plan(["Release the address"])
    with clearing_task(ip), ctx.stage("Release the address"):
        cloud_delete(ctx, lambda: driver.external_ip_release(ip_id=ip.cloud_id), "The cloud had released it already.")
        row_delete(ip)
    return {"released": ip.address}
