"""Writes for machines, external IPs, volumes and machines' firewall rules.

A request is checked here, before anything is stored: names, the image and
size against the tenancy's catalogue, the SSH key against the user's keys,
quotas against the cloud's figures plus what is already on its way. Then the
row is recorded with its task ("building", "stopping"…) and a job does the
work (apps/machines/jobs.py). The state each action needs is checked here
(409 otherwise) and again by the cloud when the job runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from apps.accounts.models import SshPublicKey, User
from apps.catalogue.quotas import quota_check
from apps.catalogue.selectors import capabilities_get, capability_require, catalogue_get
from apps.clouds import dto
from apps.clouds.base import firewall_rule_clean, machine_name_clean
from apps.clouds.errors import BadInput, Unsupported
from apps.core.errors import ApplicationError, Conflict
from apps.core.names import name_clean
from apps.jobs.events import resource_changed_publish
from apps.jobs.live import live_parents
from apps.jobs.models import Job
from apps.jobs.services import job_create
from apps.tenancies.models import Tenancy

from .models import ExternalIp, FirewallRule, Machine, Volume, firewall_rule_words

S = dto.MachineStatus
#: A row a job works on (and whose task it sets).
Resource = Machine | ExternalIp | Volume | FirewallRule

# What each machine action needs (the cloud's own rule; the local driver enforces the same).
ACTIONS: dict[str, dict[str, Any]] = {
    "start": {"allowed": {S.STOPPED}, "task": "starting", "label": "Start"},
    "stop": {"allowed": {S.ACTIVE}, "task": "stopping", "label": "Stop"},
    "restart": {"allowed": {S.ACTIVE}, "task": "restarting", "label": "Restart"},
}
DELETABLE = {S.ACTIVE, S.STOPPED, S.ERROR, S.UNKNOWN}


def changed(obj: Model, *, created: bool = False, pk: int | None = None) -> None:
    """Tell the tenancy's open pages that this row changed (after the transaction commits).
    For a row just deleted (Django has cleared its pk) pass the `pk` it had."""
    tenancy_id = obj.tenancy_id  # type: ignore[attr-defined]
    changes = [(obj._meta.model_name or "", pk if pk is not None else obj.pk, created)]
    # An IP, a volume, a rule is shown on its machine's page (and the one it just left): those
    # re-render too (and pages that poll, in the embedded mode, see the machines as changed).
    for parent, name, parent_id in live_parents(obj):
        parent._default_manager.filter(pk=parent_id).update(updated_at=timezone.now())
        changes.append((name, parent_id, False))
    for name, object_id, new in changes:
        transaction.on_commit(
            partial(resource_changed_publish, tenancy_id=tenancy_id, resource=name, object_id=object_id, created=new)
        )


def _start(obj: Resource, *, kind: str, task: str, user: User, params: dict[str, Any] | None = None) -> Job:
    """The job that changes `obj`, and the row's task saying so (the caller has checked its state)."""
    job = job_create(kind=kind, tenancy=obj.tenancy, target=obj, requested_by=user, params=params)
    task_set(obj, task)
    return job


# --- machines ------------------------------------------------------------------------------


def _catalogue_entry(entries: Iterable[dict[str, Any]], entry_id: str, field: str, what: str) -> dict[str, Any]:
    for entry in entries:
        if entry["id"] == entry_id:
            return entry
    raise BadInput(f"There is no {what} {entry_id!r} in this tenancy.", fields={field: [f"Unknown {what}."]})


@transaction.atomic
def machine_create(
    *,
    tenancy: Tenancy,
    user: User,
    name: str,
    image_id: str,
    size_id: str,
    ssh_key: SshPublicKey | None = None,
    external_ip: bool = False,
    console: bool = True,
) -> Machine:
    """Record a new machine ("building") and start the job that creates it."""
    catalogue = catalogue_get(tenancy=tenancy, user=user)
    errors: dict[str, list[str]] = {}
    try:
        name = machine_name_clean(name)
    except BadInput as exc:
        errors.update(exc.fields)
    else:
        if Machine.objects.filter(tenancy=tenancy, name=name).exists():
            errors["name"] = [f"{tenancy.name} already has a machine called {name}."]
    image = size = None
    try:
        image = _catalogue_entry(catalogue.images, image_id, "image_id", "image")
    except BadInput as exc:
        errors.update(exc.fields)
    try:
        size = _catalogue_entry(catalogue.sizes, size_id, "size_id", "size")
    except BadInput as exc:
        errors.update(exc.fields)
    if image and size and (image["min_disk_gb"] > size["disk_gb"] or image["min_ram_mb"] > size["ram_mb"]):
        errors["size_id"] = [
            f"{image['name']} needs at least {image['min_disk_gb']} GB of disk and {image['min_ram_mb']} MB of RAM."
        ]
    if ssh_key is not None and ssh_key.user_id != user.pk:
        errors["ssh_key_id"] = ["Not one of your SSH keys."]
    if external_ip and not catalogue.capabilities.external_ips:
        errors["external_ip"] = [f"{tenancy.cloud.name} does not offer external IPs."]
    if errors:
        raise BadInput("The machine cannot be created as asked.", fields=errors)
    assert image is not None  # noqa: S101 - no errors means it was found
    assert size is not None  # noqa: S101 - likewise
    quota_check(
        user=user,
        tenancy=tenancy,
        wanted={
            "machines": 1,
            "firewalls": int(catalogue.capabilities.firewall),
            "cpus": size["cpus"],
            "ram_mb": size["ram_mb"],
            "external_ips": int(external_ip),
        },
    )
    machine = Machine.objects.create(
        tenancy=tenancy,
        name=name,
        created_by=user,
        task="building",
        status=S.BUILD,
        image_id=image["id"],
        image_name=image["name"],
        size_id=size["id"],
        size_name=size["name"],
        cpus=size["cpus"],
        ram_mb=size["ram_mb"],
        disk_gb=size["disk_gb"],
        key_fingerprint=ssh_key.fingerprint if ssh_key else "",
        want_external_ip=external_ip,
        console_enabled=console,
    )
    job_create(
        kind="machines.create",
        tenancy=tenancy,
        target=machine,
        requested_by=user,
        params={"ssh_key_id": ssh_key.pk if ssh_key else None},
    )
    changed(machine, created=True)
    return machine


def machine_console_kind(*, machine: Machine, user: User) -> dto.ConsoleKind:
    """Which console the machine offers its tenancy's members now: the cloud's noVNC
    console, or the serial console log; Conflict/Unsupported saying why not."""
    if not machine.console_enabled:
        raise Conflict(f"{machine.name} was created without a web console.")
    if not machine.cloud_id or machine.status not in {S.ACTIVE, S.REBOOTING}:
        raise Conflict(f"{machine.name} is {machine.status_label.lower()}; its console opens when it is active.")
    capabilities = capabilities_get(tenancy=machine.tenancy, user=user)
    if capabilities.console == dto.ConsoleKind.NOVNC:
        return dto.ConsoleKind.NOVNC
    if capabilities.console_log:
        return dto.ConsoleKind.SERIAL
    raise Unsupported(f"{machine.tenancy.cloud.name} offers no console for machines.")


def _refuse_busy(machine: Machine) -> None:
    if machine.task:
        raise Conflict(f"{machine.name} is {machine.task}; wait until that has finished.")


def machine_actions(machine: Machine) -> list[str]:
    """The actions that make sense for the machine now (pages offer only these)."""
    if machine.busy:
        return []
    if not machine.cloud_id:  # the cloud refused to make it: only deleting the request is left
        return ["delete"] if machine.status == S.ERROR else []
    actions = [name for name, action in ACTIONS.items() if machine.status in action["allowed"]]
    if machine.status in DELETABLE:
        actions.append("delete")
    return actions


@transaction.atomic
def machine_action(*, machine: Machine, user: User, action: str) -> Job:
    """Start, stop or restart the machine (409 when its state does not allow it)."""
    if action not in ACTIONS:
        raise ApplicationError(f"Unknown action {action!r}.", fields={"action": ["start, stop or restart."]})
    machine = Machine.objects.select_for_update().get(pk=machine.pk)
    _refuse_busy(machine)
    allowed = ACTIONS[action]["allowed"]
    if machine.status not in allowed:
        raise Conflict(
            f"{machine.name} is {machine.get_status_display().lower()}; it can be {action}ed only when "
            + " or ".join(sorted(s.lower() for s in allowed))
            + "."
        )
    return _start(machine, kind=f"machines.{action}", task=ACTIONS[action]["task"], user=user)


@transaction.atomic
def machine_delete(*, machine: Machine, user: User) -> Job:
    machine = Machine.objects.select_for_update().get(pk=machine.pk)
    _refuse_busy(machine)
    if machine.cloud_id and machine.status not in DELETABLE:
        raise Conflict(f"{machine.name} is {machine.get_status_display().lower()}; delete it when that has finished.")
    return _start(machine, kind="machines.delete", task="deleting", user=user)


def _capable(tenancy: Tenancy, what: str, label: str, user: User) -> None:
    capability_require(tenancy=tenancy, flag=what, label=label, user=user)


# --- external IPs --------------------------------------------------------------------------


@transaction.atomic
def external_ip_allocate(*, tenancy: Tenancy, user: User) -> ExternalIp:
    _capable(tenancy, "external_ips", "external IPs", user)
    quota_check(user=user, tenancy=tenancy, wanted={"external_ips": 1})
    ip = ExternalIp.objects.create(tenancy=tenancy, created_by=user, task="allocating")
    job_create(kind="machines.ip_allocate", tenancy=tenancy, target=ip, requested_by=user)
    changed(ip, created=True)
    return ip


@transaction.atomic
def machine_ip_new(*, machine: Machine, user: User) -> Job:
    """Allocate an external IP for the machine and attach it (released when the machine is deleted)."""
    _capable(machine.tenancy, "external_ips", "external IPs", user)
    machine = Machine.objects.select_for_update().get(pk=machine.pk)
    _refuse_busy(machine)
    if not machine.cloud_id or machine.status not in {S.ACTIVE, S.STOPPED}:
        raise Conflict(f"{machine.name} is {machine.status_label.lower()}; attach an IP when it is active or stopped.")
    if machine.external_ip:
        raise Conflict(f"{machine.name} already has the external IP {machine.external_ip}.")
    quota_check(user=user, tenancy=machine.tenancy, wanted={"external_ips": 1})
    return _start(machine, kind="machines.ip_new", task="attaching an IP", user=user)


@transaction.atomic
def external_ip_attach(*, ip: ExternalIp, machine: Machine, user: User) -> Job:
    ip = ExternalIp.objects.select_for_update().get(pk=ip.pk)
    if machine.tenancy_id != ip.tenancy_id:
        raise BadInput("That machine is not in this tenancy.", fields={"machine_id": ["Unknown machine."]})
    if ip.task or not ip.cloud_id:
        raise Conflict(f"The external IP {ip} is busy ({ip.task or 'allocating'}); try again when it is ready.")
    if ip.machine_id:
        raise Conflict(f"The external IP {ip} is attached to {ip.machine}; detach it first.")
    if not machine.cloud_id or machine.status not in {S.ACTIVE, S.STOPPED}:
        raise Conflict(f"{machine.name} is {machine.status_label.lower()}; attach an IP when it is active or stopped.")
    if machine.external_ip:
        raise Conflict(f"{machine.name} already has the external IP {machine.external_ip}.")
    return _start(ip, kind="machines.ip_attach", task="attaching", user=user, params={"machine": machine.pk})


@transaction.atomic
def external_ip_detach(*, ip: ExternalIp, user: User) -> Job:
    ip = ExternalIp.objects.select_for_update().get(pk=ip.pk)
    if ip.task:
        raise Conflict(f"The external IP {ip} is busy ({ip.task}); try again when it is ready.")
    if not ip.machine_id:
        raise Conflict(f"The external IP {ip} is not attached to a machine.")
    return _start(ip, kind="machines.ip_detach", task="detaching", user=user)


@transaction.atomic
def external_ip_release(*, ip: ExternalIp, user: User) -> Job:
    ip = ExternalIp.objects.select_for_update().get(pk=ip.pk)
    if ip.task:
        raise Conflict(f"The external IP {ip} is busy ({ip.task}); try again when it is ready.")
    if ip.machine_id:
        raise Conflict(f"The external IP {ip} is attached to {ip.machine}; detach it first.")
    return _start(ip, kind="machines.ip_release", task="releasing", user=user)


# --- volumes ------------------------------------------------------------------------------------

VOLUME_MAX_GB = 16384


@transaction.atomic
def volume_create(*, tenancy: Tenancy, user: User, name: str, size_gb: int) -> Volume:
    _capable(tenancy, "volumes", "volumes", user)
    errors: dict[str, list[str]] = {}
    try:
        name = name_clean(name, max_length=255, error=BadInput, what="volume name")
    except BadInput as exc:
        errors.update(exc.fields)
    else:
        if Volume.objects.filter(tenancy=tenancy, name=name).exists():
            errors["name"] = [f"{tenancy.name} already has a volume called {name}."]
    if not isinstance(size_gb, int) or not 1 <= size_gb <= VOLUME_MAX_GB:
        errors["size_gb"] = [f"A whole number of GB from 1 to {VOLUME_MAX_GB}."]
    if errors:
        raise BadInput("The volume cannot be created as asked.", fields=errors)
    quota_check(user=user, tenancy=tenancy, wanted={"volumes": 1, "volume_gb": size_gb})
    volume = Volume.objects.create(tenancy=tenancy, created_by=user, name=name, size_gb=size_gb, task="creating")
    job_create(kind="machines.volume_create", tenancy=tenancy, target=volume, requested_by=user)
    changed(volume, created=True)
    return volume


@transaction.atomic
def volume_attach(*, volume: Volume, machine: Machine, user: User) -> Job:
    volume = Volume.objects.select_for_update().get(pk=volume.pk)
    if machine.tenancy_id != volume.tenancy_id:
        raise BadInput("That machine is not in this tenancy.", fields={"machine_id": ["Unknown machine."]})
    if volume.task or volume.status != dto.VolumeStatus.AVAILABLE:
        raise Conflict(f"The volume {volume.name} is {volume.status_label.lower()}; it must be available to attach.")
    if not machine.cloud_id or machine.status not in {S.ACTIVE, S.STOPPED}:
        raise Conflict(
            f"{machine.name} is {machine.status_label.lower()}; attach volumes when it is active or stopped."
        )
    return _start(volume, kind="machines.volume_attach", task="attaching", user=user, params={"machine": machine.pk})


@transaction.atomic
def volume_detach(*, volume: Volume, user: User) -> Job:
    volume = Volume.objects.select_for_update().get(pk=volume.pk)
    if volume.task or volume.status != dto.VolumeStatus.IN_USE:
        raise Conflict(f"The volume {volume.name} is {volume.status_label.lower()}; only one in use can be detached.")
    return _start(volume, kind="machines.volume_detach", task="detaching", user=user)


@transaction.atomic
def volume_delete(*, volume: Volume, user: User) -> Job:
    volume = Volume.objects.select_for_update().get(pk=volume.pk)
    if volume.task:
        raise Conflict(f"The volume {volume.name} is {volume.task}; try again when that has finished.")
    if volume.machine_id or volume.status == dto.VolumeStatus.IN_USE:
        raise Conflict(f"The volume {volume.name} is attached to {volume.machine}; detach it first.")
    return _start(volume, kind="machines.volume_delete", task="deleting", user=user)


# --- a machine's own firewall ---------------------------------------------------------------------

FIREWALL_EDITABLE = {S.ACTIVE, S.STOPPED}


def _firewall_editable(machine: Machine) -> None:
    """Conflict unless the machine has a firewall of its own on the cloud that can be edited now."""
    if machine.external:
        raise Conflict(
            f"{machine.name} was made outside Atrium, so it has no firewall of its own here; "
            "manage its security groups on the cloud."
        )
    if machine.has_firewall is False:
        raise Conflict(
            f"{machine.name} has no firewall of its own (it was made before Atrium gave each machine one); "
            "manage its security groups on the cloud."
        )
    if not machine.cloud_id or machine.status not in FIREWALL_EDITABLE or machine.task == "deleting":
        raise Conflict(
            f"{machine.name} is {machine.status_label.lower()}; edit its firewall when it is active or stopped."
        )
    if machine.has_firewall is None:
        raise Conflict(
            f"Atrium has not read the firewall of {machine.name} from the cloud yet; try again after a refresh."
        )


@transaction.atomic
def firewall_rule_add(
    *,
    machine: Machine,
    user: User,
    protocol: str,
    port_min: int | None = None,
    port_max: int | None = None,
    remote_cidr: str | None = None,
) -> FirewallRule:
    """Record a new inbound rule ("adding") and start the job that adds it to the machine's firewall.
    The rule is checked (and normalised: one port, a network for an address) before anything is stored."""
    kind, port_min, port_max, cidr = firewall_rule_clean(
        protocol=protocol, port_min=port_min, port_max=port_max, remote_cidr=remote_cidr
    )
    _capable(machine.tenancy, "firewall", "machine firewalls", user)
    machine = Machine.objects.select_for_update().select_related("tenancy").get(pk=machine.pk)
    _firewall_editable(machine)
    same = FirewallRule.objects.filter(
        machine=machine, protocol=kind.value, port_min=port_min, port_max=port_max, remote_cidr=cidr, fault=""
    )
    if same.exists():
        words = firewall_rule_words(kind.value, port_min, port_max, cidr)
        raise BadInput(
            f"{machine.name} lets in {words} already.",
            fields={"port_min" if kind.has_ports else "protocol": [f"{words} is open already."]},
        )
    rule = FirewallRule.objects.create(
        tenancy=machine.tenancy,
        machine=machine,
        created_by=user,
        protocol=kind.value,
        port_min=port_min,
        port_max=port_max,
        remote_cidr=cidr,
    )
    _start(rule, kind="machines.firewall_add", task="adding", user=user, params={"machine": machine.pk})
    return rule


@transaction.atomic
def firewall_rule_remove(*, rule: FirewallRule, user: User) -> Job:
    """Start the job that removes the rule from the machine's firewall (a rule the cloud
    refused to add is only dropped)."""
    rule = FirewallRule.objects.select_for_update().select_related("machine", "tenancy").get(pk=rule.pk)
    if rule.task:
        raise Conflict(f"{rule.description} is {rule.task}; try again when that has finished.")
    if rule.cloud_id:
        _firewall_editable(rule.machine)
    return _start(
        rule, kind="machines.firewall_remove", task="removing", user=user, params={"machine": rule.machine_id}
    )


# --- observed state (jobs and the sync) ---------------------------------------------------------


def machine_observe(*, machine: Machine, seen: dto.Machine, task: str | None = None) -> Machine:
    """Store what the cloud says about the machine (and the task, when given). Open pages
    are told only when something they show changed; otherwise only `observed_at` moves
    (a sync of a tenancy where nothing happened writes one small UPDATE a machine)."""
    observed = {
        "cloud_id": seen.id,
        "status": seen.status.value,
        "fault": seen.fault,
        "internal_ip": seen.internal_ip,
        "external_ip": seen.external_ip,
        "key_name": seen.key_name if seen.key_name is not None else machine.key_name,
        "task": task if task is not None else machine.task,
    }
    now = timezone.now()
    machine.observed_at = now
    if all(getattr(machine, name) == value for name, value in observed.items()):
        Machine.objects.filter(pk=machine.pk).update(observed_at=now)
        return machine
    for name, value in observed.items():
        setattr(machine, name, value)
    machine.save(update_fields=[*observed, "observed_at", "updated_at"])
    changed(machine)
    return machine


def row_delete(obj: Resource) -> None:
    """Drop the row (the cloud no longer has it) and tell open pages it is gone."""
    pk = obj.pk
    obj.delete()
    changed(obj, pk=pk)


def task_set(obj: Resource, task: str) -> None:
    """Set the task (and save whatever else the caller changed on the row)."""
    obj.task = task
    obj.save()
    changed(obj)
