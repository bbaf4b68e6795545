"""Live rows of the machine, external IP and volume lists and the panels of the machine page,
declared (apps.jobs.live.LiveRows): a change of an IP, a volume or a firewall rule also
re-renders the machine it is (or was) attached to."""

from collections.abc import Callable
from typing import Any

from django.template.loader import render_to_string
from django.urls import reverse

from apps.clouds.base import Capabilities
from apps.jobs.live import LiveRows, register_live_rows
from apps.tenancies.models import Tenancy

from .models import ExternalIp, FirewallRule, Machine, Volume
from .selectors import ROW_PREFETCH, ROW_RELATED


def _detail(tenancy_id: int, machine_id: int) -> list[str]:
    from .views import machine_detail_context

    machine = Machine.objects.filter(tenancy_id=tenancy_id, pk=machine_id).select_related("tenancy__cloud").first()
    if machine is None:
        return [render_to_string("machines/_gone.html", {})]
    context = {**machine_detail_context(machine), "oob": True}
    parts: list[str] = [
        render_to_string("machines/detail.html#summary", context),
        render_to_string("machines/detail.html#actions", context),
        render_to_string("machines/detail.html#attachments", context),
        # New jobs (a firewall rule's, a restart asked for in another tab) appear without a reload.
        render_to_string("machines/detail.html#jobs", context),
    ]
    if context["firewall_shown"]:
        # The rules only: the add form below them keeps what the person is typing.
        parts.append(render_to_string("machines/detail.html#firewall_rules", context))
    return parts


def _machine_row_context(tenancy_id: int) -> dict[str, Any]:
    """What a machine's Actions menu offers depends on what the cloud offers; its links, as the page's."""
    from apps.catalogue.selectors import capabilities_cached

    from .views import machine_row_links

    return {
        "capabilities": capabilities_cached(tenancy=Tenancy(pk=tenancy_id)) or Capabilities(),
        "links": machine_row_links(tenancy_id),
    }


def _volume_extra(tenancy_id: int) -> dict[str, Any]:
    """What a volume's row offers to attach it to."""
    from .selectors import machines_attachable

    return {"attach_machines": list(machines_attachable(tenancy=Tenancy(pk=tenancy_id)))}


def _ip_extra(tenancy_id: int) -> dict[str, Any]:
    """What an IP's row offers to attach it to: machines without an external IP."""
    from .selectors import machines_attachable

    machines = machines_attachable(tenancy=Tenancy(pk=tenancy_id)).filter(external_ip__isnull=True)
    return {"attach_machines": list(machines)}


def _attached_rows(
    model: type[ExternalIp | Volume],
    template: str,
    route: str,
    context: Callable[[int], dict[str, Any]],
    context_name: str = "",
) -> LiveRows:
    """An external IP or a volume: a row of its tenancy's list (`route`, where a job's page links
    to it), re-rendering the machine it is (or was) attached to."""
    anchor = f"#{model._meta.model_name}-row-"
    return LiveRows(
        model=model,
        template=template,
        context_name=context_name,
        parents=("machine",),
        select_related=("machine", "created_by"),
        context=context,
        page=lambda row: reverse(route, args=[row.tenancy_id]) + f"{anchor}{row.pk}",
    )


def register() -> None:
    register_live_rows(
        LiveRows(
            model=Machine,
            template="machines/_table.html#row",
            select_related=ROW_RELATED,
            prefetch_related=ROW_PREFETCH,
            context=_machine_row_context,
            detail=_detail,
            page=lambda machine: reverse("machines:machine-detail", args=[machine.tenancy_id, machine.pk]),
        )
    )
    register_live_rows(
        _attached_rows(ExternalIp, "machines/_ip_row.html", "machines:external-ip-list", _ip_extra, "ip")
    )
    register_live_rows(_attached_rows(Volume, "machines/_volume_row.html", "machines:volume-list", _volume_extra))
    register_live_rows(
        LiveRows(
            model=FirewallRule,
            parents=("machine",),
            page=lambda rule: (
                reverse("machines:machine-detail", args=[rule.tenancy_id, rule.machine_id]) + "#machine-firewall"
            ),
        )
    )
