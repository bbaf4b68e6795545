"""Live rows of the machine list and panels of the machine page (see apps.jobs.live)."""

from datetime import datetime

from django.template.loader import render_to_string

from apps.jobs.live import LiveResource, register_live_resource

from .models import Machine


def _rows(tenancy_id: int, ids: list[int]) -> dict[int, str]:
    machines = Machine.objects.filter(tenancy_id=tenancy_id, pk__in=ids).select_related("created_by")
    return {m.pk: render_to_string("machines/_row.html", {"machine": m}) for m in machines}


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


def _changed_since(tenancy_id: int, since: datetime) -> list[int]:
    return list(Machine.objects.filter(tenancy_id=tenancy_id, updated_at__gt=since).values_list("pk", flat=True))


def _existing(tenancy_id: int, ids: list[int]) -> set[int]:
    return set(Machine.objects.filter(tenancy_id=tenancy_id, pk__in=ids).values_list("pk", flat=True))


def register() -> None:
    register_live_resource(
        LiveResource(
            name="machine",
            rows=_rows,
            rows_container="machine-rows",
            detail=_detail,
            changed_since=_changed_since,
            existing=_existing,
            row_id=lambda pk: f"machine-row-{pk}",
        )
    )
