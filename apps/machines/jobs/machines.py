"""Machine jobs: create, start, stop, restart, delete, give an external IP, and the follow-up
that watches a machine until the cloud has settled it.

Each job loads its row, calls the cloud through the driver and stores what the cloud then
says (services.machine_observe). Whatever happens, the row's task is cleared at the end, so
the pages never show a machine "stopping" forever.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import suppress
from functools import partial
from typing import Any

from django.conf import settings
from django.utils import timezone

from apps.accounts.models import SshPublicKey, User
from apps.catalogue.selectors import firewall_shared_cached, network_cached
from apps.catalogue.services import catalogue_firewall_set, catalogue_network_set
from apps.clouds import dto
from apps.clouds.base import CloudDriver
from apps.clouds.errors import BadInput, CloudError, InvalidOperation, NotFound
from apps.clouds.registry import driver_for_tenancy
from apps.core.resources.jobs import (
    clearing_task,
    cloud_delete,
    follow_up,
    job_row,
    job_target,
    settle_change,
    settle_create,
    wait,
)
from apps.core.resources.services import changed, row_delete, task_set
from apps.jobs.context import JobContext
from apps.jobs.models import Job
from apps.jobs.registry import job_kind
from apps.jobs.watch import GONE, watch_family
from apps.tenancies.models import Tenancy

from ..models import ExternalIp, Machine, Volume
from ..services import machine_observe
from .firewall import firewall_read

S = dto.MachineStatus
ATRIUM_MACHINE_KEY = "atrium_machine"
#: Seconds a build or an action usually takes: a waiting job's progress moves by them.
BUILD_EXPECTED, ACTION_EXPECTED, ADDRESS_EXPECTED = 15.0, 5.0, 3.0


def server_state(seen: dto.Machine | None) -> str:
    """What the tenancy's watcher compares of a server a job waits for: its status and external
    address (what the machine jobs wait for; an internal address coming during a build is not)."""
    return GONE if seen is None else f"{seen.status.value} {seen.external_ip or '-'}"


def _servers(tenancy: Tenancy, user: User | None) -> dict[str, str]:
    return {seen.id: server_state(seen) for seen in driver_for_tenancy(tenancy, user=user).machines()}


#: The watcher of a tenancy's servers: one list call a round for every job waiting for a server.
SERVERS = watch_family("machines.servers", listing=_servers, fingerprint=server_state).name


def _wait_machine(ctx: JobContext, driver: CloudDriver, machine: Machine, what: str, **waiting: Any) -> dto.Machine:
    """Wait for the machine to leave its transitional status, storing each change seen (the row
    holds what the last look saw, so a look in a later run of the job compares with it).
    `waiting`: the rest of `wait`'s options."""

    def poll() -> dto.Machine:
        seen = driver.machine_get(machine_id=machine.cloud_id)
        if seen.status.value != machine.status:
            ctx.log(f"{machine.name} is {seen.status.value}.")
            machine_observe(machine=machine, seen=seen)
        return seen

    settled: dto.Machine = wait(
        ctx, what, poll, lambda m: not m.status.is_transitional, watch=(SERVERS, machine.cloud_id), **waiting
    )
    machine_observe(machine=machine, seen=settled)
    return settled


def server_create(driver: CloudDriver, machine: Machine, key_name: str | None) -> dto.Machine:
    """Ask the cloud for the server (one call on OpenStack), on the project's network and in its
    shared firewall as the catalogue keeps them. They are found (or made) on the cloud, and kept,
    only when the catalogue has none yet, or the cloud no longer has the ones it names."""
    tenancy = machine.tenancy
    firewall = driver.capabilities().firewall

    def create(network_id: str, firewall_id: str | None) -> dto.Machine:
        return driver.machine_create(
            name=machine.name,
            image_id=machine.image_id,
            size_id=machine.size_id,
            network_id=network_id,
            firewall_id=firewall_id,
            key_name=key_name,
            metadata={ATRIUM_MACHINE_KEY: str(machine.pk), "atrium_tenancy": str(tenancy.pk)},
        )

    network_id = network_cached(tenancy=tenancy)
    shared = firewall_shared_cached(tenancy=tenancy) if firewall else None
    seen = None
    if network_id and (shared or not firewall):
        try:
            seen = create(network_id, shared.id if shared else None)
        except BadInput as exc:  # the cloud no longer has the network or firewall kept: find them again
            if not {"network_id", "firewall_id"} & set(exc.fields):
                raise
    if seen is None:
        network = driver.tenant_network()
        catalogue_network_set(tenancy=tenancy, network=network)
        if firewall:
            shared = driver.firewall_shared()
            catalogue_firewall_set(tenancy=tenancy, firewall=shared)
        seen = create(network.id, shared.id if shared else None)
    if firewall:
        machine.firewall_shared = True
        machine.save(update_fields=["firewall_shared", "updated_at"])
    return seen


def _key_name(key: SshPublicKey) -> str:
    """A key pair name that is the same for the same key on every run (so a retry reuses it)."""
    digest = hashlib.sha256(key.public_key.strip().encode()).hexdigest()[:16]
    return f"atrium-{digest}"


def keypair_ensure(ctx: JobContext, driver: CloudDriver, key: SshPublicKey) -> str:
    name = _key_name(key)
    if any(pair.name == name for pair in driver.keypairs()):
        return name
    driver.keypair_import(name=name, public_key=key.public_key)
    ctx.log(f"Imported the SSH key {key.name} ({key.fingerprint}) as the key pair {name}.")
    return name


def machine_unmade(job: Job, machine: Machine) -> None:
    """A machine whose create may have reached the cloud but has no id stays, in error: it counts
    for no quota, deleting it needs no cloud call, and the sync finds a server made for it by its tag."""
    if machine.status != S.ERROR:
        machine.status, machine.fault = S.ERROR, f"It was not created: {job.error or 'its job ended first'}"
    machine.task = ""
    machine.save(update_fields=["status", "fault", "task", "updated_at"])
    changed(machine)


settle_machine_create = partial(settle_create, unmade=machine_unmade)


@job_kind("machines.create", label="Create machine", resumable=True, settle=settle_machine_create)
def machine_create_job(ctx: JobContext) -> dict[str, Any]:
    machine: Machine = job_target(ctx, Machine)
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
    created: dto.Machine | None = None  # what the cloud answered the create, in the run that asked
    with clearing_task(machine):
        if not ctx.done("Create server"):  # run again after a wait: the server is made
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
                            key_name = keypair_ensure(ctx, driver, key)
                        try:
                            seen = server_create(driver, machine, key_name)
                        except CloudError as exc:
                            # Nothing was made: the row says why (and counts for no quota) until deleted or retried.
                            machine.status, machine.fault = S.ERROR, exc.message
                            machine.save(update_fields=["status", "fault", "updated_at"])
                            raise
                        ctx.log(f"The cloud accepted {machine.name} as server {seen.id}.")
                    machine_observe(machine=machine, seen=seen)
                    created = seen
                ctx.progress(30)
        if not ctx.done("Wait until active"):
            with ctx.stage("Wait until active"):
                # Between looks the job holds no worker; its progress moves from 30 to 80 meanwhile.
                # The watcher compares the building server with what the create's answer said.
                building = {"look_now": False, "expected": BUILD_EXPECTED, "progress": (30, 80), "seen": created}
                seen = _wait_machine(ctx, driver, machine, f"Building {machine.name}", **building)
                if seen.status != S.ACTIVE:
                    raise InvalidOperation(
                        f"The cloud could not build {machine.name}: {seen.fault or 'it ended in ' + seen.status.value}."
                    )
                if ctx.job.attempts > 1:
                    _delete_doubles(ctx, driver, machine)
                ctx.progress(80)
        if firewall and not ctx.done("Read its firewall"):
            with ctx.stage("Read its firewall"):
                firewall_read(ctx, driver, machine)
        if machine.want_external_ip:
            with ctx.stage("Attach an external IP"):
                _attach_new_ip(ctx, driver, machine)
    return {"machine": machine.pk, "server": machine.cloud_id, "status": machine.status}


@job_kind("machines.ip_new", label="Give machine an external IP", settle=settle_change)
def machine_ip_new_job(ctx: JobContext) -> dict[str, Any]:
    machine, driver = job_row(ctx, Machine)
    ctx.plan(["Allocate and attach an external IP"])
    with clearing_task(machine), ctx.stage("Allocate and attach an external IP"):
        _attach_new_ip(ctx, driver, machine)
    return {"machine": machine.pk, "address": machine.external_ip}


def _attach_new_ip(ctx: JobContext, driver: CloudDriver, machine: Machine) -> None:
    if machine.external_ip:
        ctx.log(f"{machine.name} has the external IP {machine.external_ip} already.")
        return
    # Run again after a wait: the address is attached, and the cloud is to show it on the machine.
    attached_before = ExternalIp.objects.filter(machine=machine, with_machine=True).first()
    if attached_before is not None:
        wait_address(ctx, driver, machine, attached_before.address)
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
    wait_address(ctx, driver, machine, attached.address)


def wait_address(ctx: JobContext, driver: CloudDriver, machine: Machine | None, address: str | None) -> None:
    """Wait until the cloud lists `address` (None: no external address) on the machine, and store it.
    (OpenStack's compute API shows a floating IP change a few seconds after the network API made it.)"""
    if machine is None or not machine.cloud_id:
        return
    seen = wait(
        ctx,
        f"The cloud showing {address or 'no external IP'} on {machine.name}",
        lambda: driver.machine_get(machine_id=machine.cloud_id),
        lambda m: m.external_ip == address,
        timeout=settings.ATRIUM_MACHINE_ADDRESS_TIMEOUT,
        expected=ADDRESS_EXPECTED,
        watch=(SERVERS, machine.cloud_id),
    )
    machine_observe(machine=machine, seen=seen)


def _action_job(verb: str, call: Callable[[CloudDriver, str], dto.Machine]) -> Callable[[JobContext], Any]:
    def run(ctx: JobContext) -> dict[str, Any]:
        machine, driver = job_row(ctx, Machine)
        ctx.plan([f"{verb} the server", "Wait until it has finished"])
        with clearing_task(machine):
            if not ctx.done(f"{verb} the server"):  # run again after a wait: the cloud has it
                with ctx.stage(f"{verb} the server"):
                    machine_observe(machine=machine, seen=call(driver, machine.cloud_id))
            with ctx.stage("Wait until it has finished"):
                seen = _wait_machine(ctx, driver, machine, f"{verb} {machine.name}", expected=ACTION_EXPECTED)
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
    machine, driver = job_row(ctx, Machine)
    own_ips = list(ExternalIp.objects.filter(machine=machine, with_machine=True))
    ctx.plan(["Delete the server", "Wait until it is gone"] + (["Release its external IP"] if own_ips else []))
    name = machine.name
    with clearing_task(machine):
        if not ctx.done("Delete the server"):  # run again after a wait: the cloud is deleting it
            _delete_server(ctx, driver, machine)
        with ctx.stage("Wait until it is gone"):
            if machine.cloud_id:
                _wait_gone(ctx, driver, machine.cloud_id, f"Deleting {name}")
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


def _delete_server(ctx: JobContext, driver: CloudDriver, machine: Machine) -> None:
    """Ask the cloud to delete the machine's server (one its create made without storing the id too)."""
    with ctx.stage("Delete the server"):
        made = None if machine.cloud_id or machine.external else _tagged_server(driver, machine)
        if made is not None:  # its create reached the cloud after all, and ended without knowing
            machine_observe(machine=machine, seen=made)
            ctx.log(f"Found the server its create made ({made.id}).")
        if machine.cloud_id:
            cloud_id = machine.cloud_id
            cloud_delete(
                ctx,
                lambda: driver.machine_delete(machine_id=cloud_id, pause=ctx.sleep),
                f"The cloud has no server {cloud_id} any more.",
            )
        else:
            ctx.log("The server was never created on the cloud.")


def _tagged_servers(driver: CloudDriver, machine: Machine) -> list[dto.Machine]:
    """The servers creates of this row made, found by their tag (lists every server of the project:
    only for rows whose create may have asked the cloud more than once)."""
    return [m for m in driver.machines() if m.metadata.get(ATRIUM_MACHINE_KEY) == str(machine.pk)]


def _tagged_server(driver: CloudDriver, machine: Machine) -> dto.Machine | None:
    """The server a create of this row made (for rows whose create ended without storing its id)."""
    return next(iter(_tagged_servers(driver, machine)), None)


DELETING_DOUBLE = "Deleting the second server "


def _delete_doubles(ctx: JobContext, driver: CloudDriver, machine: Machine) -> None:
    """A resumed create's machine is built: delete any other server made for its row. An earlier
    attempt whose worker died while the cloud was still taking its request leaves one the cloud
    makes after the resumed create looked for it (and made its own); no one has used it.
    Deleting it is asked once and waited for across looks: the one this job waited for on its
    last look comes first, listed or not (gone since, it is no longer among the project's servers)."""
    asked = ctx.job.waiting_for.removeprefix(DELETING_DOUBLE) if ctx.job.waiting_for.startswith(DELETING_DOUBLE) else ""
    doubles = [m.id for m in _tagged_servers(driver, machine) if m.id != machine.cloud_id]
    if asked and asked not in doubles:
        doubles.insert(0, asked)
    for double in doubles:
        if double != asked:
            with suppress(NotFound):
                driver.machine_delete(machine_id=double, pause=ctx.sleep)
            ctx.log(f"Asked the cloud to delete the server {double}: an earlier attempt asked for it too.")
        _wait_gone(ctx, driver, double, f"{DELETING_DOUBLE}{double}")
        ctx.log(f"Deleted the server {double}: an earlier attempt asked for it, and the cloud made it too late.")


def _wait_gone(ctx: JobContext, driver: CloudDriver, cloud_id: str, what: str) -> None:
    """Wait until the cloud no longer has the server `cloud_id`."""

    def poll() -> dto.Machine | None:
        try:
            return driver.machine_get(machine_id=cloud_id)
        except NotFound:
            return None

    wait(ctx, what, poll, lambda seen: seen is None, expected=ACTION_EXPECTED, watch=(SERVERS, cloud_id))


@job_kind("machines.observe", label="Check machine", max_attempts=2, resumable=True)
def machine_observe_job(ctx: JobContext) -> dict[str, Any]:
    """After a job on the machine ended while the cloud was still changing it (cancelled,
    or its worker died): read it until it settles, so its actions come back then, not at the
    next periodic sync. Bounded by ATRIUM_MACHINE_TIMEOUT; only reads the cloud."""
    machine, driver = job_row(ctx, Machine)
    ctx.plan(["Wait until the cloud has finished"])
    with ctx.stage("Wait until the cloud has finished"):
        try:
            seen = _wait_machine(ctx, driver, machine, f"{machine.name} settling", expected=ACTION_EXPECTED)
        except NotFound:
            ctx.log(f"The cloud no longer has {machine.name}.")
            row_delete(machine)
            return {"machine": ctx.job.target_id, "status": "gone"}
        ctx.log(f"{machine.name} is {seen.status.value}.")
    return {"machine": machine.pk, "status": seen.status.value}


follow_up(Machine, "machines.observe")
