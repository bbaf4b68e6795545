from typing import Any

from django import template
from django.db.models import Count

from apps.machines.models import FirewallRule, Machine
from apps.tenancies.models import Tenancy

register = template.Library()


@register.filter
def ram(megabytes: int | None) -> str:
    """RAM in MB as a person reads it: "512 MB", "2 GB", "1.5 GB"."""
    if megabytes is None:
        return "—"
    if megabytes < 1024:
        return f"{megabytes} MB"
    return f"{megabytes / 1024:g} GB"


@register.filter
def joined(prefix: str, suffix: object) -> str:
    """`prefix` and `suffix` as one text: a row's URL from its list's, reversed once per page
    ("/tenancies/3/machines/" and 7)."""
    return f"{prefix}{suffix}"


@register.filter
def quota_amount(value: int | None, units: str) -> str:
    """A quota figure with its units (RAM in MB shown in GB)."""
    if value is None:
        return "unlimited"
    if units == "MB":
        return ram(value)
    return f"{value} {units}".strip()


@register.filter
def firewall_remove_question(rule: FirewallRule) -> str:
    """What removing the rule asks (the button's confirmation and the confirmation page)."""
    question = f"Remove {rule.description} from the firewall of {rule.machine.name}?"
    if rule.fault or not rule.cloud_id:
        return f"Dismiss {rule.description}? The cloud never had it."
    if rule.protocol == "tcp" and rule.port_min is not None and rule.port_min <= 22 <= (rule.port_max or 0):
        question += " SSH connections it lets in will be refused."
    return question


@register.inclusion_tag("machines/_summary_card.html")
def machines_summary(tenancy: Tenancy) -> dict[str, Any]:
    """The tenancy overview's resources card: machines by status, volumes, IPs (two queries)."""
    counts = dict(Machine.objects.filter(tenancy=tenancy).values_list("status").annotate(n=Count("pk")).order_by())
    return {
        "tenancy": tenancy,
        "total": sum(counts.values()),
        "counts": sorted(counts.items()),
        "recent": list(Machine.objects.filter(tenancy=tenancy).order_by("-created_at")[:5]),
    }


@register.filter
def machine_actions(machine: Machine) -> list[str]:
    """What the machine's state allows now (start, stop, restart, delete), for its Actions menu."""
    from apps.machines.services import machine_actions as allowed

    return allowed(machine)
