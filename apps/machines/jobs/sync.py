"""The machines part of the tenancy sync: machines, their firewalls, external IPs and volumes
brought in line with the cloud, each through `apps.core.resources.jobs.reconcile`."""

from __future__ import annotations

from functools import partial

from apps.catalogue.services import catalogue_refresh
from apps.clouds import dto
from apps.clouds.base import CloudDriver
from apps.clouds.registry import driver_for_tenancy
from apps.core.resources.jobs import ORPHANED, busy_ids, reconcile_tenancy
from apps.core.resources.services import changed, row_delete
from apps.jobs.context import JobContext
from apps.jobs.sync import register_tenancy_sync
from apps.tenancies.models import Tenancy

from ..models import ExternalIp, FirewallRule, Machine, Volume
from ..services import machine_observe
from .firewall import firewall_store
from .ips import ip_observe
from .machines import ATRIUM_MACHINE_KEY, S, settle_machine_create
from .volumes import volume_observe


@register_tenancy_sync("Machines")
def machines_sync(ctx: JobContext, tenancy: Tenancy) -> dict[str, int]:
    """Bring machines, external IPs and volumes in line with the cloud: update what
    changed, adopt what was made outside Atrium (marked external), drop what is gone."""
    driver = driver_for_tenancy(tenancy, user=ctx.job.requested_by)
    catalogue = catalogue_refresh(tenancy=tenancy, user=ctx.job.requested_by)
    sizes = {s["id"]: s for s in catalogue.sizes}
    images = {i["id"]: i for i in catalogue.images}
    busy = busy_ids(Machine)
    tagged = {
        str(m.pk): m for m in Machine.objects.filter(tenancy=tenancy, cloud_id="").exclude(pk__in=busy)
    }  # rows whose create job died after the cloud made the server

    def adopt(seen: dto.Machine) -> Machine:
        size = sizes.get(seen.size_id, {})
        row = Machine.objects.create(
            tenancy=tenancy,
            external=True,
            name=seen.name[:255],
            status=seen.status.value,
            cloud_id=seen.id,
            image_id=seen.image_id,
            image_name=images.get(seen.image_id, {}).get("name", ""),
            size_id=seen.size_id,
            size_name=size.get("name", ""),
            cpus=size.get("cpus", 0),
            ram_mb=size.get("ram_mb", 0),
            disk_gb=size.get("disk_gb", 0),
            console_enabled=True,
        )
        ctx.log(f"Found {seen.name} ({seen.id}), made outside Atrium.")
        changed(row, created=True)
        return row

    def gone(row: Machine) -> None:
        ctx.log(f"{row.name} ({row.cloud_id}) is no longer on the cloud.")
        row_delete(row)

    def unmade(row: Machine) -> None:
        if row.status != S.ERROR:  # a request whose job ended before the cloud made it, and no server has its tag
            ctx.log(f"{row.name} was never made on the cloud; its request ended.")
            settle_machine_create(ORPHANED, row, True)

    counts = reconcile_tenancy(
        Machine,
        tenancy,
        driver.machines(),
        adopt=adopt,
        observe=lambda row, seen: machine_observe(machine=row, seen=seen, task=""),
        match=lambda seen: tagged.pop(seen.metadata.get(ATRIUM_MACHINE_KEY, ""), None),
        gone=gone,
        unmade=unmade,
    )
    capabilities = driver.capabilities()
    if capabilities.firewall:
        _sync_firewalls(ctx, driver, tenancy, busy)
    if capabilities.external_ips:
        _sync_ips(ctx, driver, tenancy)
    if capabilities.volumes:
        _sync_volumes(ctx, driver, tenancy)
    ctx.log(f"{counts.seen} machines on the cloud; {counts.adopted} new, {counts.gone} gone.")
    return {"machines": counts.seen, "adopted": counts.adopted, "gone": counts.gone}


def _sync_ips(ctx: JobContext, driver: CloudDriver, tenancy: Tenancy) -> None:
    def adopt(seen: dto.ExternalIp) -> ExternalIp:
        ctx.log(f"Found the external IP {seen.address}, allocated outside Atrium.")
        return ExternalIp.objects.create(tenancy=tenancy, external=True, cloud_id=seen.id, address=seen.address)

    observe = partial(ip_observe, task="")
    reconcile_tenancy(ExternalIp, tenancy, driver.external_ips(), adopt=adopt, observe=observe)


def _sync_volumes(ctx: JobContext, driver: CloudDriver, tenancy: Tenancy) -> None:
    def adopt(seen: dto.Volume) -> Volume:
        row = Volume.objects.create(
            tenancy=tenancy, external=True, cloud_id=seen.id, name=seen.name or seen.id, size_gb=seen.size_gb
        )
        ctx.log(f"Found the volume {row.name}, made outside Atrium.")
        return row

    def unmade(row: Volume) -> None:
        ctx.log(f"The volume {row.name} was never made on the cloud; its request ended.")
        row_delete(row)

    observe = partial(volume_observe, task="")
    reconcile_tenancy(Volume, tenancy, driver.volumes(), adopt=adopt, observe=observe, unmade=unmade)


def _sync_firewalls(ctx: JobContext, driver: CloudDriver, tenancy: Tenancy, busy_machines: set[int]) -> None:
    """Each Atrium-made machine's rules from the cloud, read for all of them at once
    (`machine_firewalls`: a few calls whatever the number of machines). Machines known
    to have no firewall of their own, made outside Atrium, or that a job holds are skipped,
    and so is one the cloud cannot tell about yet."""
    machines = list(
        Machine.objects.filter(tenancy=tenancy, external=False)
        .exclude(cloud_id="")
        .exclude(has_firewall=False)
        .exclude(pk__in=busy_machines)
    )
    if not machines:
        return
    rows: dict[int, list[FirewallRule]] = {m.pk: [] for m in machines}
    for row in FirewallRule.objects.filter(tenancy=tenancy, machine__in=machines):
        rows[row.machine_id].append(row)
    busy = busy_ids(FirewallRule)
    firewalls = driver.machine_firewalls(machine_ids=[m.cloud_id for m in machines])
    for machine in machines:
        if machine.cloud_id in firewalls:
            # None: made before Atrium gave machines a firewall of their own.
            seen = firewalls[machine.cloud_id]
            firewall_store(ctx, machine, seen, rows=rows[machine.pk], busy=busy, adopted_external=True)
