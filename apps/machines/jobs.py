"""Machine, external IP, volume and firewall jobs, and the machines part of the tenancy sync.

Each job loads its row, calls the cloud through the driver and stores what the
cloud then says (services.machine_observe). Whatever happens, the row's task is
cleared at the end, so the pages never show a machine "stopping" forever.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from functools import partial
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.utils import timezone

from apps.accounts.models import SshPublicKey
from apps.catalogue.services import catalogue_refresh
from apps.clouds import dto
from apps.clouds.base import CloudDriver
from apps.clouds.errors import CloudError, InvalidOperation, NotFound, Timeout
from apps.clouds.registry import driver_for_tenancy
from apps.jobs.context import JobContext
from apps.jobs.models import Job, JobLock
from apps.jobs.registry import job_kind
from apps.jobs.sync import register_tenancy_sync
from apps.tenancies.models import Tenancy

from .models import ExternalIp, FirewallRule, Machine, Volume
from .services import Resource, changed, machine_observe, row_delete, task_set

S = dto.MachineStatus
R = TypeVar("R", bound=Model)
ATRIUM_MACHINE_KEY = "atrium_machine"


def _target(ctx: JobContext, model: type[Model]) -> Any:
    obj = ctx.target()
    assert isinstance(obj, model)  # noqa: S101 - each kind targets one model
    return obj


@contextmanager
def _clearing_task(obj: Resource) -> Iterator[None]:
    """The row's task ends with the job, however it ends (a deleted row has nothing to clear)."""
    try:
        yield
    finally:
        if type(obj).objects.filter(pk=obj.pk).update(task="", updated_at=timezone.now()):
            changed(obj)


def _wait(
    ctx: JobContext,
    what: str,
    poll: Callable[[], Any],
    done: Callable[[Any], bool],
    timeout: float | None = None,
) -> Any:
    """Poll the cloud until `done(poll())`; Timeout (retryable) after `timeout` seconds."""
    timeout = timeout if timeout is not None else settings.ATRIUM_MACHINE_TIMEOUT
    deadline = time.monotonic() + timeout
    while True:
        seen = poll()
        if done(seen):
            return seen
        if time.monotonic() > deadline:
            raise Timeout(f"{what} took longer than {round(timeout)} seconds.")
        ctx.sleep(settings.ATRIUM_MACHINE_POLL_INTERVAL)


def _wait_machine(ctx: JobContext, driver: CloudDriver, machine: Machine, what: str) -> dto.Machine:
    """Wait for the machine to leave its transitional status, storing each change seen."""
    last: list[str] = [machine.status]

    def poll() -> dto.Machine:
        seen = driver.machine_get(machine_id=machine.cloud_id)
        if seen.status.value != last[0]:
            ctx.log(f"{machine.name} is {seen.status.value}.")
            last[0] = seen.status.value
            machine_observe(machine=machine, seen=seen)
        return seen

    seen: dto.Machine = _wait(ctx, what, poll, lambda m: not m.status.is_transitional)
    machine_observe(machine=machine, seen=seen)
    return seen


def _key_name(key: SshPublicKey) -> str:
    """A key pair name that is the same for the same key on every run (so a retry reuses it)."""
    digest = hashlib.sha256(key.public_key.strip().encode()).hexdigest()[:16]
    return f"atrium-{digest}"


def _keypair(ctx: JobContext, driver: CloudDriver, key: SshPublicKey) -> str:
    name = _key_name(key)
    if any(pair.name == name for pair in driver.keypairs()):
        return name
    driver.keypair_import(name=name, public_key=key.public_key)
    ctx.log(f"Imported the SSH key {key.name} ({key.fingerprint}) as the key pair {name}.")
    return name


# --- when a job ends without succeeding ----------------------------------------------------------
# (`settle=` of each kind; apps.jobs.services.job_finish calls it, however the job ended: cancelled
# while queued, failed, cancelled while running, its worker died.)


def _settling(obj: Model) -> bool:
    """Whether the row's recorded status says the cloud is still changing it."""
    if isinstance(obj, Machine):
        return S(obj.status).is_transitional
    if isinstance(obj, Volume):
        return obj.status in _VOLUME_SETTLING
    return False


def settle_change(job: Job, obj: Model | None, ran: bool) -> str | None:
    """A change to a row (an action, attach, detach, delete…) that did not succeed: the row's
    task goes, so its actions come back. If the job had reached the cloud and the row may not
    show where the cloud is going (its task was still set: the job's own code never finished,
    as when its worker died; or its status is still changing), a follow-up job watches it
    until the cloud has settled."""
    if not isinstance(obj, Machine | ExternalIp | Volume | FirewallRule):
        return None
    interrupted = bool(obj.task)
    if interrupted:
        obj.task = ""
        type(obj).objects.filter(pk=obj.pk).update(task="", updated_at=timezone.now())
        changed(obj)
    if ran and obj.cloud_id and (interrupted or _settling(obj)):
        return FOLLOW_UP.get(type(obj))
    return None


def settle_create(job: Job, obj: Model | None, ran: bool) -> str | None:
    """A create that did not succeed. One that never reached the cloud (no stage ran) leaves no
    row: it was only recorded, and the job says why. One that reached the cloud is a change like
    any other once the cloud has given it an id. Without one: a machine whose request may have
    reached the cloud stays, in error (it counts for no quota, deleting it needs no cloud call,
    and the sync finds a server made for it by its tag); a volume or IP goes (the sync adopts
    one the cloud made after all); a firewall rule is left to the sync (matched by what it lets in)."""
    if not isinstance(obj, Machine | ExternalIp | Volume | FirewallRule):
        return None
    if obj.cloud_id:
        return settle_change(job, obj, ran)
    if not ran:
        row_delete(obj)
        return None
    if isinstance(obj, Machine):
        if obj.status != S.ERROR:
            obj.status, obj.fault = S.ERROR, f"It was not created: {job.error or 'its job ended first'}"
        obj.task = ""
        obj.save(update_fields=["status", "fault", "task", "updated_at"])
        changed(obj)
        return None
    if isinstance(obj, FirewallRule):
        return settle_change(job, obj, ran)
    row_delete(obj)
    return None


# --- machines -----------------------------------------------------------------------------------


@job_kind("machines.create", label="Create machine", resumable=True, settle=settle_create)
def machine_create_job(ctx: JobContext) -> dict[str, Any]:
    machine: Machine = _target(ctx, Machine)
    tenancy = machine.tenancy
    driver = driver_for_tenancy(tenancy, user=ctx.job.requested_by)
    stages = ["Create server", "Wait until active"]
    firewall = driver.capabilities().firewall
    if firewall:
        stages.append("Read its firewall")
    if machine.want_external_ip:
        stages.append("Attach an external IP")
    ctx.plan(stages)
    if not machine.cloud_id:
        machine.status, machine.fault = S.BUILD, ""
        task_set(machine, "building")
    with _clearing_task(machine):
        with ctx.stage("Create server"):
            if not machine.cloud_id:
                # An earlier attempt may have made the server before its worker died: find it by its tag.
                # (Only then: listing every server is the dearest call of the flow on a busy project.)
                earlier = _tagged_server(driver, machine) if ctx.job.attempts > 1 else None
                if earlier is not None:
                    seen = earlier
                    ctx.log(f"Found the server an earlier attempt created ({seen.id}).")
                else:
                    key_name = None
                    key_id = ctx.job.params.get("ssh_key_id")
                    key = SshPublicKey.objects.filter(pk=key_id).first() if key_id else None
                    if key is not None:
                        key_name = _keypair(ctx, driver, key)
                    try:
                        seen = driver.machine_create(
                            name=machine.name,
                            image_id=machine.image_id,
                            size_id=machine.size_id,
                            key_name=key_name,
                            metadata={ATRIUM_MACHINE_KEY: str(machine.pk), "atrium_tenancy": str(tenancy.pk)},
                        )
                    except CloudError as exc:
                        # Nothing was made: the row says why (and counts for no quota) until deleted or retried.
                        machine.status, machine.fault = S.ERROR, exc.message
                        machine.save(update_fields=["status", "fault", "updated_at"])
                        raise
                    ctx.log(f"The cloud accepted {machine.name} as server {seen.id}.")
                machine_observe(machine=machine, seen=seen)
            ctx.progress(30)
        with ctx.stage("Wait until active"):
            seen = _wait_machine(ctx, driver, machine, f"Building {machine.name}")
            if seen.status != S.ACTIVE:
                raise InvalidOperation(
                    f"The cloud could not build {machine.name}: {seen.fault or 'it ended in ' + seen.status.value}."
                )
            if ctx.job.attempts > 1:
                _delete_doubles(ctx, driver, machine)
            ctx.progress(80)
        if firewall:
            with ctx.stage("Read its firewall"):
                _firewall_read(ctx, driver, machine)
        if machine.want_external_ip:
            with ctx.stage("Attach an external IP"):
                _attach_new_ip(ctx, driver, machine)
    return {"machine": machine.pk, "server": machine.cloud_id, "status": machine.status}


@job_kind("machines.ip_new", label="Give machine an external IP", settle=settle_change)
def machine_ip_new_job(ctx: JobContext) -> dict[str, Any]:
    machine: Machine = _target(ctx, Machine)
    driver = driver_for_tenancy(machine.tenancy, user=ctx.job.requested_by)
    ctx.plan(["Allocate and attach an external IP"])
    with _clearing_task(machine), ctx.stage("Allocate and attach an external IP"):
        _attach_new_ip(ctx, driver, machine)
    return {"machine": machine.pk, "address": machine.external_ip}


def _attach_new_ip(ctx: JobContext, driver: CloudDriver, machine: Machine) -> None:
    if machine.external_ip:
        ctx.log(f"{machine.name} has the external IP {machine.external_ip} already.")
        return
    allocated = driver.external_ip_allocate()
    ip = ExternalIp.objects.create(
        tenancy=machine.tenancy,
        created_by=machine.created_by,
        cloud_id=allocated.id,
        address=allocated.address,
        with_machine=True,
        observed_at=timezone.now(),
    )
    ctx.log(f"Allocated the external IP {allocated.address}.")
    attached = driver.external_ip_attach(ip_id=allocated.id, machine_id=machine.cloud_id)
    ip.machine = machine
    ip.save(update_fields=["machine", "updated_at"])
    changed(ip, created=True)
    ctx.log(f"Attached {attached.address} to {machine.name}.")
    _wait_address(ctx, driver, machine, attached.address)


def _wait_address(ctx: JobContext, driver: CloudDriver, machine: Machine | None, address: str | None) -> None:
    """Wait until the cloud lists `address` (None: no external address) on the machine, and store it.
    (OpenStack's compute API shows a floating IP change a few seconds after the network API made it.)"""
    if machine is None or not machine.cloud_id:
        return
    seen: dto.Machine = _wait(
        ctx,
        f"The cloud showing {address or 'no external IP'} on {machine.name}",
        lambda: driver.machine_get(machine_id=machine.cloud_id),
        lambda m: m.external_ip == address,
        timeout=settings.ATRIUM_MACHINE_ADDRESS_TIMEOUT,
    )
    machine_observe(machine=machine, seen=seen)


def _action_job(verb: str, call: Callable[[CloudDriver, str], dto.Machine]) -> Callable[[JobContext], Any]:
    def run(ctx: JobContext) -> dict[str, Any]:
        machine: Machine = _target(ctx, Machine)
        driver = driver_for_tenancy(machine.tenancy, user=ctx.job.requested_by)
        ctx.plan([f"{verb} the server", "Wait until it has finished"])
        with _clearing_task(machine):
            with ctx.stage(f"{verb} the server"):
                machine_observe(machine=machine, seen=call(driver, machine.cloud_id))
            with ctx.stage("Wait until it has finished"):
                seen = _wait_machine(ctx, driver, machine, f"{verb} {machine.name}")
        return {"machine": machine.pk, "status": seen.status.value}

    return run


job_kind("machines.start", label="Start machine", settle=settle_change)(
    _action_job("Start", lambda driver, cloud_id: driver.machine_start(machine_id=cloud_id))
)
job_kind("machines.stop", label="Stop machine", settle=settle_change)(
    _action_job("Stop", lambda driver, cloud_id: driver.machine_stop(machine_id=cloud_id))
)
job_kind("machines.restart", label="Restart machine", settle=settle_change)(
    _action_job("Restart", lambda driver, cloud_id: driver.machine_reboot(machine_id=cloud_id))
)


@job_kind("machines.delete", label="Delete machine", resumable=True, settle=settle_change)
def machine_delete_job(ctx: JobContext) -> dict[str, Any]:
    machine: Machine = _target(ctx, Machine)
    driver = driver_for_tenancy(machine.tenancy, user=ctx.job.requested_by)
    own_ips = list(ExternalIp.objects.filter(machine=machine, with_machine=True))
    ctx.plan(["Delete the server", "Wait until it is gone"] + (["Release its external IP"] if own_ips else []))
    name = machine.name
    with _clearing_task(machine):
        with ctx.stage("Delete the server"):
            made = None if machine.cloud_id or machine.external else _tagged_server(driver, machine)
            if made is not None:  # its create reached the cloud after all, and ended without knowing
                machine_observe(machine=machine, seen=made)
                ctx.log(f"Found the server its create made ({made.id}).")
            if machine.cloud_id:
                try:
                    driver.machine_delete(machine_id=machine.cloud_id, pause=ctx.sleep)
                except NotFound:
                    ctx.log(f"The cloud has no server {machine.cloud_id} any more.")
            else:
                ctx.log("The server was never created on the cloud.")
        with ctx.stage("Wait until it is gone"):
            if machine.cloud_id:
                _wait(ctx, f"Deleting {name}", lambda: _gone(driver, machine.cloud_id), bool)
        if own_ips:
            with ctx.stage("Release its external IP"):
                for ip in own_ips:
                    try:
                        driver.external_ip_release(ip_id=ip.cloud_id)
                        ctx.log(f"Released {ip.address}.")
                    except NotFound:
                        pass
                    ip.delete()
        Volume.objects.filter(machine=machine).update(machine=None, device="", status=dto.VolumeStatus.AVAILABLE)
        for volume in Volume.objects.filter(tenancy=machine.tenancy, status=dto.VolumeStatus.AVAILABLE):
            changed(volume)
        row_delete(machine)
    return {"deleted": name}


def _tagged_servers(driver: CloudDriver, machine: Machine) -> list[dto.Machine]:
    """The servers creates of this row made, found by their tag (lists every server of the project:
    only for rows whose create may have asked the cloud more than once)."""
    return [m for m in driver.machines() if m.metadata.get(ATRIUM_MACHINE_KEY) == str(machine.pk)]


def _tagged_server(driver: CloudDriver, machine: Machine) -> dto.Machine | None:
    """The server a create of this row made (for rows whose create ended without storing its id)."""
    return next(iter(_tagged_servers(driver, machine)), None)


def _delete_doubles(ctx: JobContext, driver: CloudDriver, machine: Machine) -> None:
    """A resumed create's machine is built: delete any other server made for its row. An earlier
    attempt whose worker died while the cloud was still taking its request leaves one the cloud
    makes after the resumed create looked for it (and made its own); no one has used it."""
    for double in _tagged_servers(driver, machine):
        if double.id == machine.cloud_id:
            continue
        with suppress(NotFound):
            driver.machine_delete(machine_id=double.id, pause=ctx.sleep)
        _wait(ctx, f"Deleting the second server {double.id}", partial(_gone, driver, double.id), bool)
        ctx.log(f"Deleted the server {double.id}: an earlier attempt asked for it, and the cloud made it too late.")


def _gone(driver: CloudDriver, cloud_id: str) -> bool:
    try:
        driver.machine_get(machine_id=cloud_id)
    except NotFound:
        return True
    return False


# --- external IPs ----------------------------------------------------------------------------------


def _ip_observe(ip: ExternalIp, seen: dto.ExternalIp) -> None:
    ip.cloud_id = seen.id
    ip.address = seen.address
    ip.machine = (
        Machine.objects.filter(tenancy=ip.tenancy, cloud_id=seen.machine_id).first() if seen.machine_id else None
    )
    ip.observed_at = timezone.now()
    ip.save(update_fields=["cloud_id", "address", "machine", "observed_at", "task", "updated_at"])
    changed(ip)


@job_kind("machines.ip_allocate", label="Allocate external IP", settle=settle_create)
def ip_allocate_job(ctx: JobContext) -> dict[str, Any]:
    ip: ExternalIp = _target(ctx, ExternalIp)
    driver = driver_for_tenancy(ip.tenancy, user=ctx.job.requested_by)
    ctx.plan(["Allocate the address"])
    try:
        with _clearing_task(ip), ctx.stage("Allocate the address"):
            _ip_observe(ip, driver.external_ip_allocate())
            ctx.log(f"Allocated {ip.address}.")
    except CloudError:
        row_delete(ip)  # nothing was allocated: the request leaves no row behind
        raise
    return {"address": ip.address}


@job_kind("machines.ip_attach", label="Attach external IP", settle=settle_change)
def ip_attach_job(ctx: JobContext) -> dict[str, Any]:
    ip: ExternalIp = _target(ctx, ExternalIp)
    machine = Machine.objects.get(pk=ctx.job.params["machine"], tenancy=ip.tenancy)
    driver = driver_for_tenancy(ip.tenancy, user=ctx.job.requested_by)
    ctx.plan(["Attach the address"])
    with _clearing_task(ip), ctx.stage("Attach the address"):
        _ip_observe(ip, driver.external_ip_attach(ip_id=ip.cloud_id, machine_id=machine.cloud_id))
        _wait_address(ctx, driver, machine, ip.address)
        ctx.log(f"{ip.address} now reaches {machine.name}.")
    return {"address": ip.address, "machine": machine.pk}


@job_kind("machines.ip_detach", label="Detach external IP", settle=settle_change)
def ip_detach_job(ctx: JobContext) -> dict[str, Any]:
    ip: ExternalIp = _target(ctx, ExternalIp)
    machine = ip.machine
    driver = driver_for_tenancy(ip.tenancy, user=ctx.job.requested_by)
    ctx.plan(["Detach the address"])
    with _clearing_task(ip), ctx.stage("Detach the address"):
        _ip_observe(ip, driver.external_ip_detach(ip_id=ip.cloud_id))
        _wait_address(ctx, driver, machine, None)
        ctx.log(f"Detached {ip.address}.")
    return {"address": ip.address}


@job_kind("machines.ip_release", label="Release external IP", resumable=True, settle=settle_change)
def ip_release_job(ctx: JobContext) -> dict[str, Any]:
    ip: ExternalIp = _target(ctx, ExternalIp)
    driver = driver_for_tenancy(ip.tenancy, user=ctx.job.requested_by)
    ctx.plan(["Release the address"])
    with _clearing_task(ip), ctx.stage("Release the address"):
        try:
            driver.external_ip_release(ip_id=ip.cloud_id)
        except NotFound:
            ctx.log("The cloud had released it already.")
        row_delete(ip)
    return {"released": ip.address}


# --- volumes -----------------------------------------------------------------------------------------


def _volume_observe(volume: Volume, seen: dto.Volume) -> None:
    volume.cloud_id = seen.id
    volume.status = seen.status.value
    volume.size_gb = seen.size_gb
    volume.device = seen.device or ""
    volume.machine = (
        Machine.objects.filter(tenancy=volume.tenancy, cloud_id=seen.machine_id).first() if seen.machine_id else None
    )
    volume.observed_at = timezone.now()
    volume.save(
        update_fields=["cloud_id", "status", "size_gb", "device", "machine", "observed_at", "task", "updated_at"]
    )
    changed(volume)


_VOLUME_SETTLING = {dto.VolumeStatus.CREATING, dto.VolumeStatus.ATTACHING, dto.VolumeStatus.DETACHING}


def _wait_volume(ctx: JobContext, driver: CloudDriver, volume: Volume) -> dto.Volume:
    seen: dto.Volume = _wait(
        ctx,
        f"The volume {volume.name}",
        lambda: driver.volume_get(volume_id=volume.cloud_id),
        lambda v: v.status not in _VOLUME_SETTLING,
    )
    _volume_observe(volume, seen)
    return seen


@job_kind("machines.volume_create", label="Create volume", settle=settle_create)
def volume_create_job(ctx: JobContext) -> dict[str, Any]:
    volume: Volume = _target(ctx, Volume)
    driver = driver_for_tenancy(volume.tenancy, user=ctx.job.requested_by)
    ctx.plan(["Create the volume", "Wait until available"])
    with _clearing_task(volume):
        with ctx.stage("Create the volume"):
            try:
                _volume_observe(volume, driver.volume_create(name=volume.name, size_gb=volume.size_gb))
            except CloudError:
                row_delete(volume)
                raise
        with ctx.stage("Wait until available"):
            seen = _wait_volume(ctx, driver, volume)
            if seen.status != dto.VolumeStatus.AVAILABLE:
                raise InvalidOperation(f"The cloud could not create the volume {volume.name} ({seen.status.value}).")
    return {"volume": volume.pk, "status": volume.status}


@job_kind("machines.volume_attach", label="Attach volume", settle=settle_change)
def volume_attach_job(ctx: JobContext) -> dict[str, Any]:
    volume: Volume = _target(ctx, Volume)
    machine = Machine.objects.get(pk=ctx.job.params["machine"], tenancy=volume.tenancy)
    driver = driver_for_tenancy(volume.tenancy, user=ctx.job.requested_by)
    ctx.plan(["Attach the volume", "Wait until in use"])
    with _clearing_task(volume):
        with ctx.stage("Attach the volume"):
            _volume_observe(volume, driver.volume_attach(volume_id=volume.cloud_id, machine_id=machine.cloud_id))
        with ctx.stage("Wait until in use"):
            seen = _wait_volume(ctx, driver, volume)
            ctx.log(f"{volume.name} is attached to {machine.name} as {seen.device or 'a new disk'}.")
    return {"volume": volume.pk, "machine": machine.pk, "device": volume.device}


@job_kind("machines.volume_detach", label="Detach volume", settle=settle_change)
def volume_detach_job(ctx: JobContext) -> dict[str, Any]:
    volume: Volume = _target(ctx, Volume)
    driver = driver_for_tenancy(volume.tenancy, user=ctx.job.requested_by)
    ctx.plan(["Detach the volume", "Wait until available"])
    with _clearing_task(volume):
        with ctx.stage("Detach the volume"):
            _volume_observe(volume, driver.volume_detach(volume_id=volume.cloud_id))
        with ctx.stage("Wait until available"):
            _wait_volume(ctx, driver, volume)
    return {"volume": volume.pk, "status": volume.status}


@job_kind("machines.volume_delete", label="Delete volume", resumable=True, settle=settle_change)
def volume_delete_job(ctx: JobContext) -> dict[str, Any]:
    volume: Volume = _target(ctx, Volume)
    driver = driver_for_tenancy(volume.tenancy, user=ctx.job.requested_by)
    ctx.plan(["Delete the volume"])
    with _clearing_task(volume), ctx.stage("Delete the volume"):
        if volume.cloud_id:
            try:
                driver.volume_delete(volume_id=volume.cloud_id)
            except NotFound:
                ctx.log("The cloud had deleted it already.")
        row_delete(volume)
    return {"deleted": volume.name}


# --- a machine's own firewall -----------------------------------------------------------------------------


def _firewall_read(ctx: JobContext, driver: CloudDriver, machine: Machine) -> None:
    """Store the new machine's first rules (the cloud's defaults: SSH and ping). A failure
    to read them does not fail the build: the next sync reads them."""
    try:
        seen = driver.machine_firewall(machine_id=machine.cloud_id)
    except InvalidOperation as exc:
        ctx.log(exc.message)
        _firewall_store(ctx, machine, None, rows=[], busy=set(), adopted_external=False)
        return
    except CloudError as exc:
        ctx.log(f"Could not read the firewall of {machine.name} ({exc.message}); the next sync will.")
        return
    _firewall_store(ctx, machine, seen, rows=list(machine.firewall_rules.all()), busy=set(), adopted_external=False)
    ctx.log(f"{machine.name} lets in: " + "; ".join(r.description for r in machine.firewall_rules.all()) + ".")


def _firewall_store(
    ctx: JobContext,
    machine: Machine,
    seen: list[dto.FirewallRule] | None,
    *,
    rows: list[FirewallRule],
    busy: set[int],
    adopted_external: bool,
) -> None:
    """Bring the machine's rule rows in line with its firewall on the cloud (`seen`; None: it has
    none of its own). Rules the cloud has that no row knows become rows (`external` when found by
    the sync: added outside Atrium); rows of rules the cloud no longer has are dropped. Rows a job
    holds (`busy`) and rows the cloud refused (with a fault) are left alone. Writes only what changed."""
    has_firewall = seen is not None
    if machine.has_firewall is not has_firewall:
        machine.has_firewall = has_firewall
        machine.save(update_fields=["has_firewall", "updated_at"])
        changed(machine)
    known = {row.cloud_id: row for row in rows if row.cloud_id}
    # Rows whose add job ended before it stored what the cloud made: matched by what they let in.
    waiting = [row for row in rows if not row.cloud_id and not row.fault and row.pk not in busy]
    for rule in seen or []:
        key = rule.key
        row = known.pop(rule.id, None) or next((r for r in waiting if r.key == key), None)
        if row is None:
            row = FirewallRule.objects.create(
                tenancy_id=machine.tenancy_id,
                machine=machine,
                cloud_id=rule.id,
                external=adopted_external,
                protocol=rule.protocol.value,
                port_min=rule.port_min,
                port_max=rule.port_max,
                remote_cidr=rule.remote_cidr,
                observed_at=timezone.now(),
            )
            if adopted_external:
                ctx.log(f"Found {row.description} on {machine.name}, added outside Atrium.")
            changed(row)
        elif row.pk not in busy and (row.cloud_id, row.key, row.task) != (rule.id, key, ""):
            if row in waiting:
                waiting.remove(row)
            row.cloud_id, row.task, row.observed_at = rule.id, "", timezone.now()
            row.protocol, row.port_min, row.port_max, row.remote_cidr = key
            row.save()
            changed(row)
    for row in known.values():
        if row.pk not in busy:
            ctx.log(f"{row.description} is no longer in the firewall of {machine.name}.")
            row_delete(row)
    for row in waiting:
        if seen is not None and row.cloud_id == "":  # its job ended (a worker died) before the cloud had it
            row.task, row.fault = "", "The job adding it ended before the cloud had it; remove it and add it again."
            row.save(update_fields=["task", "fault", "updated_at"])
            changed(row)


def _rule_target(ctx: JobContext) -> tuple[FirewallRule, Machine, CloudDriver]:
    rule: FirewallRule = _target(ctx, FirewallRule)
    machine = Machine.objects.get(pk=rule.machine_id)
    return rule, machine, driver_for_tenancy(rule.tenancy, user=ctx.job.requested_by)


@job_kind("machines.firewall_add", label="Add firewall rule", settle=settle_create)
def firewall_add_job(ctx: JobContext) -> dict[str, Any]:
    rule, machine, driver = _rule_target(ctx)
    ctx.plan(["Add the rule"])
    if rule.fault or not rule.task:  # a retry: the row says "adding" again
        rule.fault = ""
        task_set(rule, "adding")
    with _clearing_task(rule), ctx.stage("Add the rule"):
        if rule.cloud_id:
            ctx.log("The cloud has the rule already.")
        else:
            try:
                seen = driver.machine_firewall_rule_add(
                    machine_id=machine.cloud_id,
                    protocol=rule.protocol,
                    port_min=rule.port_min,
                    port_max=rule.port_max,
                    remote_cidr=rule.remote_cidr,
                )
            except InvalidOperation as exc:
                # It may be there already (an earlier attempt, or someone outside Atrium added it).
                found = _rule_on_cloud(driver, machine, rule)
                if found is None:
                    _rule_refused(rule, exc)
                    raise
                seen = found
                ctx.log("The cloud had that rule already.")
            except CloudError as exc:
                _rule_refused(rule, exc)
                raise
            if FirewallRule.objects.filter(tenancy=rule.tenancy, cloud_id=seen.id).exclude(pk=rule.pk).exists():
                row_delete(rule)  # a sync has listed it meanwhile: one row is enough
            else:
                rule.cloud_id, rule.observed_at = seen.id, timezone.now()
                rule.save(update_fields=["cloud_id", "observed_at", "updated_at"])
                changed(rule)
            ctx.log(f"{machine.name} now lets in {rule.description}.")
    return {"machine": machine.pk, "rule": rule.cloud_id, "description": rule.description}


def _rule_on_cloud(driver: CloudDriver, machine: Machine, rule: FirewallRule) -> dto.FirewallRule | None:
    try:
        seen = driver.machine_firewall(machine_id=machine.cloud_id)
    except CloudError:
        return None
    return next((r for r in seen if r.key == rule.key), None)


def _rule_refused(rule: FirewallRule, exc: CloudError) -> None:
    """The row stays with the cloud's reason, so the person sees why (until they remove it)."""
    rule.fault = exc.message
    rule.save(update_fields=["fault", "updated_at"])
    changed(rule)


@job_kind("machines.firewall_remove", label="Remove firewall rule", resumable=True, settle=settle_change)
def firewall_remove_job(ctx: JobContext) -> dict[str, Any]:
    rule, machine, driver = _rule_target(ctx)
    ctx.plan(["Remove the rule"])
    description = rule.description
    with _clearing_task(rule), ctx.stage("Remove the rule"):
        if rule.cloud_id:
            try:
                driver.machine_firewall_rule_remove(machine_id=machine.cloud_id, rule_id=rule.cloud_id)
                ctx.log(f"{machine.name} no longer lets in {description}.")
            except NotFound:
                ctx.log("The cloud had removed it already.")
        else:
            ctx.log("The cloud never had this rule.")
        row_delete(rule)
    return {"machine": machine.pk, "removed": description}


# --- following a row until the cloud has settled ---------------------------------------------------------


@job_kind("machines.observe", label="Check machine", max_attempts=2, resumable=True)
def machine_observe_job(ctx: JobContext) -> dict[str, Any]:
    """After a job on the machine ended while the cloud was still changing it (cancelled,
    or its worker died): read it until it settles, so its actions come back then, not at the
    next periodic sync. Bounded by ATRIUM_MACHINE_TIMEOUT; only reads the cloud."""
    machine: Machine = _target(ctx, Machine)
    driver = driver_for_tenancy(machine.tenancy, user=ctx.job.requested_by)
    ctx.plan(["Wait until the cloud has finished"])
    with ctx.stage("Wait until the cloud has finished"):
        try:
            seen = _wait_machine(ctx, driver, machine, f"{machine.name} settling")
        except NotFound:
            ctx.log(f"The cloud no longer has {machine.name}.")
            row_delete(machine)
            return {"machine": ctx.job.target_id, "status": "gone"}
        ctx.log(f"{machine.name} is {seen.status.value}.")
    return {"machine": machine.pk, "status": seen.status.value}


@job_kind("machines.volume_observe", label="Check volume", max_attempts=2, resumable=True)
def volume_observe_job(ctx: JobContext) -> dict[str, Any]:
    """As `machines.observe`, for a volume left attaching, detaching or creating."""
    volume: Volume = _target(ctx, Volume)
    driver = driver_for_tenancy(volume.tenancy, user=ctx.job.requested_by)
    ctx.plan(["Wait until the cloud has finished"])
    with ctx.stage("Wait until the cloud has finished"):
        try:
            seen = _wait_volume(ctx, driver, volume)
        except NotFound:
            ctx.log(f"The cloud no longer has the volume {volume.name}.")
            row_delete(volume)
            return {"volume": ctx.job.target_id, "status": "gone"}
    return {"volume": volume.pk, "status": seen.status.value}


#: The kind that follows a row of each model until it settles.
FOLLOW_UP: dict[type[Model], str] = {Machine: "machines.observe", Volume: "machines.volume_observe"}


# --- the tenancy sync ------------------------------------------------------------------------------------


#: Stands for the job, long ended, of a row the sync finds without one (see `_orphans`).
_ORPHANED = Job(error="its job ended before the cloud made it")


def _orphans(rows: Iterable[R]) -> list[R]:
    """Of `rows` not on the cloud, those no job holds now (read now, not when the sync started:
    a row recorded since holds its job's lock from the moment it is visible). Jobs settle their
    rows when they end (`settle_create`); these are rows left by jobs that ended before they did."""
    rows = list(rows)
    if not rows:
        return []
    content_type = ContentType.objects.get_for_model(type(rows[0]))
    held = set(
        JobLock.objects.filter(target_key__in=[f"{content_type.pk}:{r.pk}" for r in rows]).values_list(
            "target_key", flat=True
        )
    )
    return [r for r in rows if f"{content_type.pk}:{r.pk}" not in held]


def _busy_ids(model: type[Model]) -> set[int]:
    """Rows a job holds now: the sync leaves them to that job."""
    content_type = ContentType.objects.get_for_model(model)
    keys = JobLock.objects.filter(target_key__startswith=f"{content_type.pk}:").values_list("target_key", flat=True)
    return {int(key.split(":", 1)[1]) for key in keys}


@register_tenancy_sync("Machines")
def machines_sync(ctx: JobContext, tenancy: Tenancy) -> dict[str, int]:
    """Bring machines, external IPs and volumes in line with the cloud: update what
    changed, adopt what was made outside Atrium (marked external), drop what is gone."""
    driver = driver_for_tenancy(tenancy, user=ctx.job.requested_by)
    catalogue = catalogue_refresh(tenancy=tenancy, user=ctx.job.requested_by)
    counts = {"machines": 0, "adopted": 0, "gone": 0}
    sizes = {s["id"]: s for s in catalogue.sizes}
    images = {i["id"]: i for i in catalogue.images}
    busy = _busy_ids(Machine)
    seen_machines = driver.machines()
    rows = {m.cloud_id: m for m in Machine.objects.filter(tenancy=tenancy).exclude(cloud_id="")}
    tagged = {
        str(m.pk): m for m in Machine.objects.filter(tenancy=tenancy, cloud_id="").exclude(pk__in=busy)
    }  # rows whose create job died after the cloud made the server
    for seen in seen_machines:
        counts["machines"] += 1
        row = rows.pop(seen.id, None) or tagged.pop(seen.metadata.get(ATRIUM_MACHINE_KEY, ""), None)
        if row is None:
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
            counts["adopted"] += 1
            ctx.log(f"Found {seen.name} ({seen.id}), made outside Atrium.")
            changed(row, created=True)
        if row.pk in busy:
            continue
        machine_observe(machine=row, seen=seen, task="")
    for row in rows.values():
        if row.pk not in busy:
            ctx.log(f"{row.name} ({row.cloud_id}) is no longer on the cloud.")
            row_delete(row)
            counts["gone"] += 1
    for row in _orphans(tagged.values()):
        if row.status != S.ERROR:  # a request whose job ended before the cloud made it, and no server has its tag
            ctx.log(f"{row.name} was never made on the cloud; its request ended.")
            settle_create(_ORPHANED, row, True)
    capabilities = driver.capabilities()
    if capabilities.firewall:
        _sync_firewalls(ctx, driver, tenancy, busy)
    if capabilities.external_ips:
        _sync_ips(ctx, driver, tenancy)
    if capabilities.volumes:
        _sync_volumes(ctx, driver, tenancy)
    ctx.log(f"{counts['machines']} machines on the cloud; {counts['adopted']} new, {counts['gone']} gone.")
    return counts


def _sync_ips(ctx: JobContext, driver: CloudDriver, tenancy: Tenancy) -> None:
    busy = _busy_ids(ExternalIp)
    rows = {ip.cloud_id: ip for ip in ExternalIp.objects.filter(tenancy=tenancy).exclude(cloud_id="")}
    for seen in driver.external_ips():
        row = rows.pop(seen.id, None)
        if row is None:
            row = ExternalIp.objects.create(tenancy=tenancy, external=True, cloud_id=seen.id, address=seen.address)
            ctx.log(f"Found the external IP {seen.address}, allocated outside Atrium.")
        if row.pk not in busy:
            row.task = ""
            _ip_observe(row, seen)
    for row in rows.values():
        if row.pk not in busy:
            row_delete(row)
    for row in _orphans(ExternalIp.objects.filter(tenancy=tenancy, cloud_id="")):
        row_delete(row)


def _sync_volumes(ctx: JobContext, driver: CloudDriver, tenancy: Tenancy) -> None:
    busy = _busy_ids(Volume)
    rows = {v.cloud_id: v for v in Volume.objects.filter(tenancy=tenancy).exclude(cloud_id="")}
    for seen in driver.volumes():
        row = rows.pop(seen.id, None)
        if row is None:
            row = Volume.objects.create(
                tenancy=tenancy, external=True, cloud_id=seen.id, name=seen.name or seen.id, size_gb=seen.size_gb
            )
            ctx.log(f"Found the volume {row.name}, made outside Atrium.")
        if row.pk not in busy:
            row.task = ""
            _volume_observe(row, seen)
    for row in rows.values():
        if row.pk not in busy:
            row_delete(row)
    for row in _orphans(Volume.objects.filter(tenancy=tenancy, cloud_id="")):
        ctx.log(f"The volume {row.name} was never made on the cloud; its request ended.")
        row_delete(row)


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
    busy = _busy_ids(FirewallRule)
    firewalls = driver.machine_firewalls(machine_ids=[m.cloud_id for m in machines])
    for machine in machines:
        if machine.cloud_id in firewalls:
            # None: made before Atrium gave machines a firewall of their own.
            seen = firewalls[machine.cloud_id]
            _firewall_store(ctx, machine, seen, rows=rows[machine.pk], busy=busy, adopted_external=True)
