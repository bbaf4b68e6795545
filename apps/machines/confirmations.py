"""What each destructive action on machines, external IPs, volumes and firewall rules asks
before it is done (apps.core.confirm): the object by name and what goes with it."""

from django.urls import reverse

from apps.core.confirm import Confirmation

from .models import ExternalIp, FirewallRule, Machine, Volume
from .templatetags.machines import firewall_remove_question


def _machine_page(machine: Machine) -> str:
    return reverse("machines:machine-detail", args=[machine.tenancy_id, machine.pk])


def machine_delete(machine: Machine) -> Confirmation:
    lines = [
        f"This deletes the machine {machine.name} in {machine.tenancy.name} and everything on its own disk. "
        "It cannot be undone."
    ]
    for ip in machine.ips.filter(with_machine=True):
        lines.append(f"Its external IP {ip}, allocated with it, is released.")
    other_ips = machine.ips.filter(with_machine=False)
    if other_ips:
        lines.append(f"The external IP {', '.join(map(str, other_ips))} is detached and stays in the tenancy.")
    volumes = list(machine.volumes.all())
    if volumes:
        names = ", ".join(f"{v.name} ({v.size_gb} GB)" for v in volumes)
        lines.append(f"Its volumes are detached first and kept: {names}.")
    return Confirmation(
        title=f"Delete {machine.name}?",
        button=f"Delete {machine.name}",
        back=_machine_page(machine),
        consequences=lines,
        tenancy=machine.tenancy,
    )


def firewall_rule_remove(rule: FirewallRule) -> Confirmation:
    lines = []
    if rule.cloud_id and not rule.fault:
        lines.append("Connections this rule lets in are refused once it is removed. You can open it again later.")
    return Confirmation(
        title=firewall_remove_question(rule),
        page_title=f"Remove a firewall rule of {rule.machine.name}",
        button="Remove it",
        back=_machine_page(rule.machine),
        consequences=lines,
        tenancy=rule.machine.tenancy,
    )


def external_ip_release(ip: ExternalIp, back: str) -> Confirmation:
    lines = ["The address goes back to the cloud: the tenancy may not get the same one again."]
    return _unless_attached(ip, f"Release the external IP {ip}?", f"Release {ip}", back, lines)


def _unless_attached(
    obj: ExternalIp | Volume, title: str, button: str, back: str, lines: list[str], machine_as: str = ""
) -> Confirmation:
    """Releasing or deleting: refused while `obj` is attached to a machine."""
    return Confirmation(
        title=title,
        button=button,
        back=back,
        consequences=lines,
        blocked=f"It is attached to {machine_as}{obj.machine}: detach it first." if obj.machine_id else "",
        tenancy=obj.tenancy,
    )


def _detach(what: str, obj: ExternalIp | Volume, machine: Machine | None, back: str, lines: list[str]) -> Confirmation:
    return Confirmation(
        title=f"Detach {what} from {machine}?",
        button=f"Detach {obj}",
        back=back,
        consequences=lines,
        blocked="" if machine else f"{obj} is not attached to a machine.",
        tenancy=obj.tenancy,
        danger=False,
    )


def external_ip_detach(ip: ExternalIp, back: str) -> Confirmation:
    lines = [
        f"{ip.machine} can no longer be reached from outside at {ip}; connections to it are cut.",
        "The address stays in the tenancy: you can attach it again or release it.",
    ]
    return _detach(f"the external IP {ip}", ip, ip.machine, back, lines)


def volume_detach(volume: Volume, back: str) -> Confirmation:
    lines = [
        f"Unmount it on {volume.machine} first: writes still in flight are lost.",
        "Its data is kept: you can attach it to this or another machine again.",
    ]
    return _detach(f"the volume {volume.name} ({volume.size_gb} GB)", volume, volume.machine, back, lines)


def volume_delete(volume: Volume, back: str) -> Confirmation:
    title = f"Delete the volume {volume.name} ({volume.size_gb} GB)?"
    lines = [f"Its data ({volume.size_gb} GB) is lost. It cannot be undone."]
    return _unless_attached(volume, title, f"Delete {volume.name}", back, lines, machine_as="the machine ")
