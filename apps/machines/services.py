"""Writes for machines, external IPs, volumes and machines' firewall rules.

A request is checked here, before anything is stored: names, the image and
size against the tenancy's cached catalogue, the SSH key against the user's keys,
quotas against the cached limits and Atrium's rows (apps/catalogue/quotas.py): no cloud call. Then the
row is recorded with its task ("building", "stopping"…) and a job does the
work (apps/machines/jobs/). The state each action needs is checked here
(409 otherwise) and again by the cloud when the job runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Required, TypedDict, Unpack

from django.db import transaction

from apps.accounts.models import SshPublicKey, User
from apps.catalogue.quotas import quota_check
from apps.catalogue.selectors import capabilities_get, capability_require, catalogue_cached
from apps.clouds import dto
from apps.clouds.base import firewall_rule_clean, machine_name_clean
from apps.clouds.errors import BadInput, Unsupported
from apps.core.errors import ApplicationError, Conflict
from apps.core.names import name_clean
from apps.core.resources.services import (
    Started,
    observe,
    page_changed,
    row_act,
    row_create,
)
from apps.jobs.models import Job
from apps.tenancies.models import Tenancy

from .models import ExternalIp, FirewallRule, Machine, Volume, firewall_rule_words
from .quotas import shared_firewall_wanted

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
) -> Started[Machine]:
    """Record a new machine ("building") and start the job that creates it. Asks the cloud
    nothing: the catalogue and quota limits as cached (`catalogue_cached`), Atrium's rows."""
    catalogue = catalogue_cached(tenancy=tenancy, user=user)
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
            # New machines share one firewall (a security group) per tenancy: the first one makes it.
            "firewalls": shared_firewall_wanted(tenancy),
            "cpus": size["cpus"],
            "ram_mb": size["ram_mb"],
            "external_ips": int(external_ip),
        },
    )
    return row_create(
        Machine,
        kind="machines.create",
        task="building",
        user=user,
        params={"ssh_key_id": ssh_key.pk if ssh_key else None},
        tenancy=tenancy,
        name=name,
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
    allowed = ACTIONS[action]["allowed"]

    def check(machine: Machine) -> None:
        if machine.status not in allowed:
            raise Conflict(
                f"{machine.name} is {machine.get_status_display().lower()}; it can be {action}ed only when "
                + " or ".join(sorted(s.lower() for s in allowed))
                + "."
            )

    return row_act(machine, kind=f"machines.{action}", task=ACTIONS[action]["task"], user=user, check=check).job


@transaction.atomic
def machine_delete(*, machine: Machine, user: User) -> Job:
    return row_act(machine, kind="machines.delete", task="deleting", user=user, check=_deletable).job


def _deletable(machine: Machine) -> None:
    if machine.cloud_id and machine.status not in DELETABLE:
        raise Conflict(f"{machine.name} is {machine.get_status_display().lower()}; delete it when that has finished.")


def _capable(tenancy: Tenancy, what: str, label: str, user: User) -> None:
    capability_require(tenancy=tenancy, flag=what, label=label, user=user)


# --- external IPs --------------------------------------------------------------------------


@transaction.atomic
def external_ip_allocate(*, tenancy: Tenancy, user: User) -> Started[ExternalIp]:
    _capable(tenancy, "external_ips", "external IPs", user)
    quota_check(user=user, tenancy=tenancy, wanted={"external_ips": 1})
    return row_create(ExternalIp, kind="machines.ip_allocate", task="allocating", user=user, tenancy=tenancy)


@transaction.atomic
def machine_ip_new(*, machine: Machine, user: User) -> Job:
    """Allocate an external IP for the machine and attach it (released when the machine is deleted)."""
    _capable(machine.tenancy, "external_ips", "external IPs", user)

    def check(machine: Machine) -> None:
        _ip_attachable(machine)
        quota_check(user=user, tenancy=machine.tenancy, wanted={"external_ips": 1})

    return row_act(machine, kind="machines.ip_new", task="attaching an IP", user=user, check=check).job


def _ip_attachable(machine: Machine) -> None:
    if not machine.cloud_id or machine.status not in {S.ACTIVE, S.STOPPED}:
        raise Conflict(f"{machine.name} is {machine.status_label.lower()}; attach an IP when it is active or stopped.")
    if machine.external_ip:
        raise Conflict(f"{machine.name} already has the external IP {machine.external_ip}.")


@transaction.atomic
def external_ip_attach(*, ip: ExternalIp, machine: Machine, user: User) -> Job:
    def check(ip: ExternalIp) -> None:
        if not ip.cloud_id:
            raise Conflict(f"The external IP {ip} is busy (allocating); try again when it is ready.")
        _ip_detached(ip)
        _ip_attachable(machine)

    return _attach(ip, machine, kind="machines.ip_attach", user=user, check=check, busy=f"The external IP {ip}")


def _attach(
    row: ExternalIp | Volume, machine: Machine, *, kind: str, user: User, check: Callable[[Any], None], busy: str
) -> Job:
    """Start attaching `row` to `machine` (a machine of another tenancy is bad input, not a conflict)."""
    if machine.tenancy_id != row.tenancy_id:
        raise BadInput("That machine is not in this tenancy.", fields={"machine_id": ["Unknown machine."]})
    params = {"machine": machine.pk}
    job = row_act(row, kind=kind, task="attaching", user=user, check=check, busy=busy, params=params).job
    # The machine's page lists the job at once (the row names the machine only once the job has attached it).
    page_changed(Machine, machine.pk, tenancy_id=machine.tenancy_id)
    return job


def _detach(row: ExternalIp | Volume, *, kind: str, user: User, check: Callable[[Any], None], busy: str) -> Job:
    """Start detaching `row`; the job names the machine it leaves (read from the locked row), so
    that machine's page lists it."""

    def leaving(row: ExternalIp | Volume) -> dict[str, Any]:
        return {"machine": row.machine_id}

    return row_act(row, kind=kind, task="detaching", user=user, check=check, busy=busy, params=leaving).job


def _ip_detached(ip: ExternalIp) -> None:
    if ip.machine_id:
        raise Conflict(f"The external IP {ip} is attached to {ip.machine}; detach it first.")


@transaction.atomic
def external_ip_detach(*, ip: ExternalIp, user: User) -> Job:
    def check(ip: ExternalIp) -> None:
        if not ip.machine_id:
            raise Conflict(f"The external IP {ip} is not attached to a machine.")

    return _detach(ip, kind="machines.ip_detach", user=user, check=check, busy=f"The external IP {ip}")


@transaction.atomic
def external_ip_release(*, ip: ExternalIp, user: User) -> Job:
    return row_act(
        ip, kind="machines.ip_release", task="releasing", user=user, check=_ip_detached, busy=f"The external IP {ip}"
    ).job


# --- volumes ------------------------------------------------------------------------------------

VOLUME_MAX_GB = 16384


@transaction.atomic
def volume_create(*, tenancy: Tenancy, user: User, name: str, size_gb: int) -> Started[Volume]:
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
    return row_create(
        Volume, kind="machines.volume_create", task="creating", user=user, tenancy=tenancy, name=name, size_gb=size_gb
    )


@transaction.atomic
def volume_attach(*, volume: Volume, machine: Machine, user: User) -> Job:
    def check(volume: Volume) -> None:
        if volume.status != dto.VolumeStatus.AVAILABLE:
            raise Conflict(
                f"The volume {volume.name} is {volume.status_label.lower()}; it must be available to attach."
            )
        if not machine.cloud_id or machine.status not in {S.ACTIVE, S.STOPPED}:
            raise Conflict(
                f"{machine.name} is {machine.status_label.lower()}; attach volumes when it is active or stopped."
            )

    return _attach(
        volume, machine, kind="machines.volume_attach", user=user, check=check, busy=f"The volume {volume.name}"
    )


@transaction.atomic
def volume_detach(*, volume: Volume, user: User) -> Job:
    def check(volume: Volume) -> None:
        if volume.status != dto.VolumeStatus.IN_USE:
            raise Conflict(
                f"The volume {volume.name} is {volume.status_label.lower()}; only one in use can be detached."
            )

    return _detach(volume, kind="machines.volume_detach", user=user, check=check, busy=f"The volume {volume.name}")


@transaction.atomic
def volume_delete(*, volume: Volume, user: User) -> Job:
    def check(volume: Volume) -> None:
        if volume.machine_id or volume.status == dto.VolumeStatus.IN_USE:
            raise Conflict(f"The volume {volume.name} is attached to {volume.machine}; detach it first.")

    return row_act(
        volume, kind="machines.volume_delete", task="deleting", user=user, check=check, busy=f"The volume {volume.name}"
    ).job


# --- what the pages and the API do with a row that attaches to a machine ----------------------------


@dataclass(frozen=True)
class Attachable:
    """The services of a kind of row that attaches to a machine (external IPs, volumes), by role:
    the list pages (apps.machines.views) and the API (`AttachActions`) offer the same three."""

    attach: Callable[[Any, Machine, User], Job]
    detach: Callable[[Any, User], Job]
    #: Release an external IP, delete a volume.
    remove: Callable[[Any, User], Job]


EXTERNAL_IPS = Attachable(
    lambda ip, machine, user: external_ip_attach(ip=ip, machine=machine, user=user),
    lambda ip, user: external_ip_detach(ip=ip, user=user),
    lambda ip, user: external_ip_release(ip=ip, user=user),
)
VOLUMES = Attachable(
    lambda volume, machine, user: volume_attach(volume=volume, machine=machine, user=user),
    lambda volume, user: volume_detach(volume=volume, user=user),
    lambda volume, user: volume_delete(volume=volume, user=user),
)


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


def firewall_change_cost(machine: Machine) -> int:
    """How many security groups the next change of the machine's rules takes: one for a machine
    in the tenancy's shared firewall (the change gives it one of its own), unless a change on its
    way has counted it already."""
    if not machine.firewall_shared:
        return 0
    return 0 if machine.firewall_rules.exclude(task="").exists() else 1


def _firewall_cost_check(machine: Machine, user: User) -> None:
    cost = firewall_change_cost(machine)
    if cost:
        quota_check(user=user, tenancy=machine.tenancy, wanted={"firewalls": cost})


class RuleAsked(TypedDict, total=False):
    """A firewall rule as asked for: only `protocol` is needed (a rule without ports lets every port
    in; without `remote_cidr`, from anywhere)."""

    protocol: Required[str]
    port_min: int | None
    port_max: int | None
    remote_cidr: str | None


@transaction.atomic
def firewall_rule_add(*, machine: Machine, user: User, **asked: Unpack[RuleAsked]) -> Started[FirewallRule]:
    """Record a new inbound rule ("adding") and start the job that adds it to the machine's firewall.
    The rule is checked (and normalised: one port, a network for an address) before anything is stored."""
    kind, port_min, port_max, cidr = firewall_rule_clean(
        protocol=asked["protocol"],
        port_min=asked.get("port_min"),
        port_max=asked.get("port_max"),
        remote_cidr=asked.get("remote_cidr"),
    )
    _capable(machine.tenancy, "firewall", "machine firewalls", user)
    machine = Machine.objects.select_for_update().select_related("tenancy").get(pk=machine.pk)
    _firewall_editable(machine)
    _firewall_cost_check(machine, user)
    same = FirewallRule.objects.filter(
        machine=machine, protocol=kind.value, port_min=port_min, port_max=port_max, remote_cidr=cidr, fault=""
    )
    if same.exists():
        words = firewall_rule_words(kind.value, port_min, port_max, cidr)
        raise BadInput(
            f"{machine.name} lets in {words} already.",
            fields={"port_min" if kind.has_ports else "protocol": [f"{words} is open already."]},
        )
    return row_create(
        FirewallRule,
        kind="machines.firewall_add",
        task="adding",
        user=user,
        params={"machine": machine.pk},
        tenancy=machine.tenancy,
        machine=machine,
        protocol=kind.value,
        port_min=port_min,
        port_max=port_max,
        remote_cidr=cidr,
    )


@transaction.atomic
def firewall_rule_remove(*, rule: FirewallRule, user: User) -> Job:
    """Start the job that removes the rule from the machine's firewall (a rule the cloud
    refused to add is only dropped)."""

    def check(rule: FirewallRule) -> None:
        if rule.cloud_id:
            machine = Machine.objects.select_for_update().select_related("tenancy").get(pk=rule.machine_id)
            _firewall_editable(machine)
            _firewall_cost_check(machine, user)

    return row_act(
        rule,
        kind="machines.firewall_remove",
        task="removing",
        user=user,
        check=check,
        params={"machine": rule.machine_id},
    ).job


# --- observed state (jobs and the sync) ---------------------------------------------------------


def machine_observe(*, machine: Machine, seen: dto.Machine, task: str | None = None) -> Machine:
    """Store what the cloud says about the machine (and the task, when given)."""
    observe(
        machine,
        {
            "cloud_id": seen.id,
            "status": seen.status.value,
            "fault": seen.fault,
            "internal_ip": seen.internal_ip,
            "external_ip": seen.external_ip,
            "key_name": seen.key_name if seen.key_name is not None else machine.key_name,
            "task": task if task is not None else machine.task,
        },
    )
    return machine
