"""Machine, external IP, volume and machine firewall pages. Reads come from the database (the
selectors); every change is a service call that records it and starts a job.
Errors a service raises become form errors here, or a message on the page the
person came from (apps.core.middleware). The pages work with plain reloads; the
tenancy websocket keeps lists and the machine page live."""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_http_methods, require_POST

from apps.accounts.models import User
from apps.accounts.selectors import signed_in_user, ssh_key_list
from apps.catalogue.capabilities import Capabilities
from apps.catalogue.quotas import quotas_current
from apps.catalogue.selectors import capabilities_get, catalogue_cached
from apps.clouds import dto
from apps.clouds.errors import BadInput, CloudError
from apps.clouds.registry import driver_for_tenancy
from apps.core.confirm import Confirmation, confirm
from apps.core.errors import ApplicationError, Conflict
from apps.core.forms import ServiceForm
from apps.core.middleware import same_site
from apps.core.resources.pages import PAGE_SIZE, list_page
from apps.core.resources.services import Started
from apps.jobs.models import Job
from apps.tenancies.models import Tenancy
from apps.tenancies.selectors import tenancy_get_for_user

from . import confirmations, selectors, services
from .connect import connect_hint
from .filtersets import MachineFilterSet
from .forms import (
    ExternalIpAttachForm,
    FirewallRuleForm,
    MachineAttachForm,
    MachineCreateForm,
    VolumeAttachForm,
    VolumeCreateForm,
)
from .models import ExternalIp, Machine, Volume
from .quotas import shared_firewall_wanted

CONSOLE_LOG_LINES = 200


def _in_tenancy(request: HttpRequest, tenancy_id: int) -> tuple[User, Tenancy]:
    """Who asks, and the tenancy in the URL (404 unless theirs)."""
    user = signed_in_user(request)
    return user, tenancy_get_for_user(user=user, tenancy_id=tenancy_id)


def _started(request: HttpRequest, what: str, job: Job) -> None:
    """Say the job started, with a link to follow it."""
    follow = reverse("jobs:detail", args=[job.tenancy_id, job.pk])
    messages.success(
        request, format_html('{}: job #{} started. <a class="alert-link" href="{}">Follow it</a>', what, job.pk, follow)
    )


def _confirmed(
    request: HttpRequest, question: Confirmation, start: Callable[[], Job], what: str, back: str
) -> HttpResponse:
    """GET: the question (apps.core.confirm); POST: start the job, say so, go `back`."""

    def perform() -> HttpResponse:
        _started(request, what, start())
        return redirect(back)

    return confirm(request, question, perform)


def _posted(request: HttpRequest) -> Any:
    """What a form is bound to: the POST's data (None on a GET: the form shown empty)."""
    return request.POST if request.method == "POST" else None


def _created(
    request: HttpRequest, form: ServiceForm, create: Callable[[dict[str, Any]], Started[Any]], said: str, done: str
) -> HttpResponse | None:
    """A create form posted valid: start `create` with its data, say so (`said`, "{}" the new row)
    and go to `done`. None where there is the form to show again (a GET, or errors, the service's too)."""
    if request.method != "POST" or not form.is_valid():
        return None
    try:
        row, job = create(form.cleaned_data)
    except (BadInput, Conflict) as exc:
        form.add_service_error(exc)
        return None
    _started(request, said.format(row), job)
    return redirect(done)


# --- machines ---------------------------------------------------------------------------------


def machine_row_links(tenancy_id: int) -> dict[str, str]:
    """The URLs a machine's row links to start with, reversed once per page (or live row); the row
    adds its id and the rest (machines/_table.html#row): a reverse() per link was most of the page's time."""
    return {
        "machines": reverse("machines:machine-list", args=[tenancy_id]),
        "external_ips": reverse("machines:external-ip-list", args=[tenancy_id]),
    }


@login_required
def machine_list(request: HttpRequest, tenancy_id: int) -> HttpResponse:
    tenancy, machines = selectors.machine_list(user=request.user, tenancy_id=tenancy_id)
    filterset = MachineFilterSet(request.GET or None, queryset=machines.prefetch_related(*selectors.ROW_PREFETCH))
    page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    filtered = filterset.is_filtered()
    return render(
        request,
        "machines/list.html",
        {
            "tenancy": tenancy,
            "filter": filterset,
            "page": page,
            "machines": page.object_list,
            "capabilities": capabilities_get(tenancy=tenancy, user=signed_in_user(request)),
            "links": machine_row_links(tenancy.pk),
            "filtered": filtered,
            "query": filterset.query_string(),
            # New machines appear live only where they belong: the first, unfiltered page.
            "live_new": page.number == 1 and not filtered,
        },
    )


def _quota_rows(quotas: list[dto.Quota], wanted: dict[str, int]) -> list[dict[str, Any]]:
    """Each quota with what this request adds, for the projected-use bars."""
    rows = []
    for quota in quotas:
        adds = wanted.get(quota.resource, 0)
        after = quota.used + adds
        limit = quota.limit
        rows.append(
            {
                "quota": quota,
                "adds": adds,
                "after": after,
                "over": limit is not None and adds > 0 and after > limit,
                "used_pct": min(100, round(100 * quota.used / limit)) if limit else 0,
                "adds_pct": max(0, min(100, round(100 * after / limit)) - min(100, round(100 * quota.used / limit)))
                if limit
                else 0,
            }
        )
    return rows


def _wanted(tenancy: Tenancy, form: MachineCreateForm) -> dict[str, int]:
    """What the machine asked so far takes, as the create request counts it (`services.machine_create`)."""
    size = form.selected_size()
    wanted = {"machines": 1, "firewalls": shared_firewall_wanted(tenancy)}
    if size:
        wanted.update(cpus=size["cpus"], ram_mb=size["ram_mb"])
    if form.data.get("external_ip"):
        wanted["external_ips"] = 1
    return wanted


def _quota_context(tenancy: Any, form: MachineCreateForm, user: User) -> dict[str, Any]:
    try:
        quotas = quotas_current(tenancy=tenancy, user=user)
    except CloudError as exc:
        return {"quota_rows": [], "quota_error": exc.message}
    rows = _quota_rows(quotas, _wanted(tenancy, form))
    return {"quota_rows": rows, "quota_over": any(row["over"] for row in rows)}


@login_required
@require_http_methods(["GET", "POST"])
def machine_create(request: HttpRequest, tenancy_id: int) -> HttpResponse:
    user, tenancy = _in_tenancy(request, tenancy_id)
    catalogue = catalogue_cached(tenancy=tenancy, user=user)
    keys = ssh_key_list(user=user)
    form = MachineCreateForm(_posted(request), catalogue=catalogue, ssh_keys=keys, initial={"ssh_key": keys.first()})

    def create(data: dict[str, Any]) -> Started[Machine]:
        return services.machine_create(
            tenancy=tenancy,
            user=user,
            name=data["name"],
            image_id=data["image"],
            size_id=data["size"],
            ssh_key=data["ssh_key"],
            external_ip=bool(data.get("external_ip")),
            console=bool(data["console"]),
        )

    said = "Creating {} (listed below as building until it is up)"
    if created := _created(request, form, create, said, reverse("machines:machine-list", args=[tenancy.pk])):
        return created
    context = {"tenancy": tenancy, "form": form, "sizes": catalogue.sizes, **_quota_context(tenancy, form, user)}
    status = 400 if form.errors else 200
    return render(request, "machines/create.html", context, status=status)


@login_required
def machine_create_quotas(request: HttpRequest, tenancy_id: int) -> HttpResponse:
    """The projected-use panel of the create form for the size (and IP) chosen so far."""
    user, tenancy = _in_tenancy(request, tenancy_id)
    form = MachineCreateForm(
        request.GET,
        catalogue=catalogue_cached(tenancy=tenancy, user=user),
        ssh_keys=ssh_key_list(user=user),
    )
    return render(request, "machines/create.html#quotas", {"tenancy": tenancy, **_quota_context(tenancy, form, user)})


@login_required
def tenancy_quotas(request: HttpRequest, tenancy_id: int) -> HttpResponse:
    """The tenancy's quotas as the cloud reports them, with meters (the overview loads it)."""
    user, tenancy = _in_tenancy(request, tenancy_id)
    try:
        context: dict[str, Any] = {"quota_rows": _quota_rows(quotas_current(tenancy=tenancy, user=user), {})}
    except CloudError as exc:
        context = {"quota_error": exc.message}
    return render(request, "machines/_quotas.html", {"tenancy": tenancy, "heading": "Quota in use", **context})


@login_required
def machine_detail(request: HttpRequest, tenancy_id: int, machine_id: int) -> HttpResponse:
    machine = selectors.machine_get(user=request.user, tenancy_id=tenancy_id, machine_id=machine_id)
    return render(request, "machines/detail.html", machine_detail_context(machine, signed_in_user(request)))


def machine_detail_context(machine: Machine, user: User | None = None) -> dict[str, Any]:
    tenancy = machine.tenancy
    capabilities = capabilities_get(tenancy=tenancy, user=user)
    return {
        "tenancy": tenancy,
        "machine": machine,
        "actions": services.machine_actions(machine),
        "capabilities": capabilities,
        "ips": machine.ips.all(),
        "volumes": machine.volumes.all(),
        "ip_form": ExternalIpAttachForm(choices=selectors.external_ips_free(tenancy=tenancy))
        if capabilities.external_ips
        else None,
        "volume_form": VolumeAttachForm(choices=selectors.volumes_free(tenancy=tenancy))
        if capabilities.volumes
        else None,
        "jobs": selectors.machine_jobs(machine=machine)[:20],
        "can_attach": bool(machine.cloud_id) and not machine.busy and machine.status in selectors.ATTACHABLE,
        "connect": connect_hint(machine),
        **_firewall_context(machine, capabilities, user),
    }


def _firewall_context(machine: Machine, capabilities: Capabilities, user: User | None) -> dict[str, Any]:
    """The firewall panel: shown where the cloud gives machines a firewall of their own and
    Atrium made the machine; its rules in one query, however many there are. For a machine in
    the tenancy's shared firewall, what a change will cost in security groups (from Atrium's data)."""
    shown = capabilities.firewall and not machine.external
    cost = None
    if shown and machine.has_firewall and services.firewall_change_cost(machine):
        quota = next((q for q in quotas_current(tenancy=machine.tenancy, user=user) if q.resource == "firewalls"), None)
        if quota is not None:
            cost = {"used": quota.used, "after": quota.used + 1, "limit": quota.limit}
    return {
        "firewall_shown": shown,
        "firewall_rules": list(machine.firewall_rules.all()) if shown else [],
        "firewall_form": FirewallRuleForm() if shown and machine.has_firewall is not False else None,
        "firewall_cost": cost,
    }


@login_required
def machine_console_log(request: HttpRequest, tenancy_id: int, machine_id: int) -> HttpResponse:
    """The last lines of the machine's console log, read from the cloud (the page refreshes it)."""
    machine = selectors.machine_get(user=request.user, tenancy_id=tenancy_id, machine_id=machine_id)
    text, error = "", ""
    if not machine.cloud_id:
        error = "The machine has no console log until the cloud has created it."
    else:
        try:
            text = driver_for_tenancy(machine.tenancy, user=signed_in_user(request)).machine_console_log(
                machine_id=machine.cloud_id, lines=CONSOLE_LOG_LINES
            )
        except ApplicationError as exc:
            error = exc.message
    return render(request, "machines/_console_log.html", {"machine": machine, "text": text, "error": error})


@login_required
@require_POST
def machine_action(request: HttpRequest, tenancy_id: int, machine_id: int, action: str) -> HttpResponse:
    if action not in services.ACTIONS:
        raise Http404("No such action.")
    machine = selectors.machine_get(user=request.user, tenancy_id=tenancy_id, machine_id=machine_id)
    job = services.machine_action(machine=machine, user=signed_in_user(request), action=action)
    _started(request, f"{services.ACTIONS[action]['label']} {machine.name}", job)
    return _back(request, reverse("machines:machine-detail", args=[tenancy_id, machine.pk]))


@login_required
@require_http_methods(["GET", "POST"])
def machine_delete(request: HttpRequest, tenancy_id: int, machine_id: int) -> HttpResponse:
    """GET asks for confirmation (naming the machine and what goes with it); POST deletes it."""
    machine = selectors.machine_get(user=request.user, tenancy_id=tenancy_id, machine_id=machine_id)
    return _confirmed(
        request,
        confirmations.machine_delete(machine),
        lambda: services.machine_delete(machine=machine, user=signed_in_user(request)),
        f"Deleting {machine.name}",
        reverse("machines:machine-list", args=[tenancy_id]),
    )


@login_required
def machine_console(request: HttpRequest, tenancy_id: int, machine_id: int) -> HttpResponse:
    """The machine's console, for members only: the cloud's noVNC console (a fresh,
    short-lived URL each time) or, on clouds without one, its serial console log, live."""
    user, machine = _machine(request, tenancy_id, machine_id)
    if services.machine_console_kind(machine=machine, user=user) == dto.ConsoleKind.NOVNC:
        access = driver_for_tenancy(machine.tenancy, user=user).machine_console(machine_id=machine.cloud_id)
        return redirect(access.url)
    return render(request, "machines/console.html", {"tenancy": machine.tenancy, "machine": machine})


# --- a machine's external IP and volumes ------------------------------------------------------------


def _machine(request: HttpRequest, tenancy_id: int, machine_id: int) -> tuple[User, Machine]:
    user = signed_in_user(request)
    return user, selectors.machine_get(user=user, tenancy_id=tenancy_id, machine_id=machine_id)


@login_required
@require_POST
def machine_ip_attach(request: HttpRequest, tenancy_id: int, machine_id: int) -> HttpResponse:
    user, machine = _machine(request, tenancy_id, machine_id)
    ip = ExternalIpAttachForm.chosen(request.POST, selectors.external_ips_free(tenancy=machine.tenancy))
    if ip is None:
        job = services.machine_ip_new(machine=machine, user=user)
        _started(request, f"Allocating an external IP for {machine.name}", job)
    else:
        job = services.external_ip_attach(ip=ip, machine=machine, user=user)
        _started(request, f"Attaching {ip} to {machine.name}", job)
    return redirect("machines:machine-detail", tenancy_id=tenancy_id, machine_id=machine.pk)


@login_required
@require_POST
def machine_volume_attach(request: HttpRequest, tenancy_id: int, machine_id: int) -> HttpResponse:
    user, machine = _machine(request, tenancy_id, machine_id)
    volume = VolumeAttachForm.chosen(request.POST, selectors.volumes_free(tenancy=machine.tenancy))
    _started(request, f"Attaching {volume} to {machine}", services.VOLUMES.attach(volume, machine, user))
    return redirect("machines:machine-detail", tenancy_id=tenancy_id, machine_id=machine.pk)


def _firewall_answer(
    request: HttpRequest, machine: Machine, user: User, notice: str, form: FirewallRuleForm | None = None
) -> HttpResponse:
    """After a firewall change: htmx gets the panel again (the form with its errors, or empty
    with `notice`); a plain request the page, with the errors (400) or redirected with `notice`."""
    detail = reverse("machines:machine-detail", args=[machine.tenancy_id, machine.pk])
    errors = form is not None and bool(form.errors)
    if not errors and not request.htmx:  # type: ignore[attr-defined]  # django-htmx's middleware sets it
        messages.success(request, notice)
        return redirect(f"{detail}#machine-firewall")
    context = machine_detail_context(machine, user)
    context["firewall_notice"] = "" if errors else notice
    if errors:
        context["firewall_form"] = form
    template = "machines/detail.html#firewall" if request.htmx else "machines/detail.html"  # type: ignore[attr-defined]
    return render(request, template, context, status=400 if errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def machine_firewall_add(request: HttpRequest, tenancy_id: int, machine_id: int) -> HttpResponse:
    """POST adds a rule to the machine's firewall (a job); GET (a reload after a refused POST) goes to the page."""
    user, machine = _machine(request, tenancy_id, machine_id)
    if request.method == "GET":
        return redirect("machines:machine-detail", tenancy_id=tenancy_id, machine_id=machine.pk)
    form = FirewallRuleForm(request.POST)
    if form.is_valid():
        try:
            rule = services.firewall_rule_add(machine=machine, user=user, **form.service_data()).row
        except BadInput as exc:
            form.add_service_error(exc)
        else:
            notice = f"Opening {rule.description}: it shows as adding until the cloud has it."
            return _firewall_answer(request, machine, user, notice)
    return _firewall_answer(request, machine, user, "", form)


@login_required
@require_http_methods(["GET", "POST"])
def machine_firewall_remove(request: HttpRequest, tenancy_id: int, machine_id: int, rule_id: int) -> HttpResponse:
    """GET asks for confirmation (saying what will be shut out); POST removes the rule (a job)."""
    user = signed_in_user(request)
    rule = selectors.firewall_rule_get(user=user, tenancy_id=tenancy_id, machine_id=machine_id, rule_id=rule_id)
    machine = rule.machine

    def remove() -> HttpResponse:
        job = services.firewall_rule_remove(rule=rule, user=user)
        notice = f"Removing {rule.description}: job #{job.pk} started."
        return _firewall_answer(request, machine, user, notice)

    return confirm(request, confirmations.firewall_rule_remove(rule), remove)


def _next(request: HttpRequest, default: str) -> str:
    """The page the form was on (a machine's page or a list; `next` posted, or in the URL of a
    confirmation page), never off-site."""
    return same_site(request, request.POST.get("next") or request.GET.get("next", ""), default)


def _back(request: HttpRequest, default: str) -> HttpResponse:
    return redirect(_next(request, default))


# --- external IPs ---------------------------------------------------------------------------------------


@login_required
def external_ip_list(request: HttpRequest, tenancy_id: int) -> HttpResponse:
    tenancy, ips = selectors.external_ip_list(user=request.user, tenancy_id=tenancy_id)
    capabilities = capabilities_get(tenancy=tenancy, user=signed_in_user(request))
    machines = selectors.machines_attachable(tenancy=tenancy)
    attach_machines = list(machines.filter(external_ip__isnull=True))
    context = {"capabilities": capabilities, "attach_machines": attach_machines}
    return list_page(request, "machines/external_ips.html", tenancy, ips, "ips", context)


@login_required
@require_POST
def external_ip_allocate(request: HttpRequest, tenancy_id: int) -> HttpResponse:
    user, tenancy = _in_tenancy(request, tenancy_id)
    job = services.external_ip_allocate(tenancy=tenancy, user=user).job
    _started(request, "Allocating an external IP (its address appears here in a moment)", job)
    return redirect("machines:external-ip-list", tenancy_id=tenancy_id)


def _ip(request: HttpRequest, tenancy_id: int, ip_id: int) -> tuple[User, ExternalIp]:
    user = signed_in_user(request)
    return user, selectors.external_ip_get(user=user, tenancy_id=tenancy_id, ip_id=ip_id)


def _list_url(row: ExternalIp | Volume) -> str:
    """The tenancy's list page of `row`'s kind."""
    name = "machines:external-ip-list" if isinstance(row, ExternalIp) else "machines:volume-list"
    return reverse(name, args=[row.tenancy_id])


#: A list row's view: (request, tenancy_id, <row>_id) -> the user and the row (404 unless theirs).
RowLoad = Callable[..., tuple[User, Any]]


def _row_attach(load: RowLoad, rows: services.Attachable) -> Callable[..., HttpResponse]:
    """The view of a list row's Attach (POST): to the machine chosen (one of its tenancy's), then back."""

    @login_required
    @require_POST
    def view(request: HttpRequest, tenancy_id: int, **url: int) -> HttpResponse:
        user, row = load(request, tenancy_id, **url)
        machine = MachineAttachForm.chosen(request.POST, Machine.objects.filter(tenancy=row.tenancy))
        _started(request, f"Attaching {row} to {machine}", rows.attach(row, machine, user))
        return _back(request, _list_url(row))

    return view


def _row_confirmed(
    load: RowLoad,
    question: Callable[[Any, str], Confirmation],
    start: Callable[[Any, User], Job],
    doing: str,
    *,
    stay: bool = False,
) -> Callable[..., HttpResponse]:
    """The view of a list row's confirmed action: GET asks `question`, POST starts it ("`doing` <row>");
    afterwards the list (or, with `stay`, the page asked from)."""

    @login_required
    @require_http_methods(["GET", "POST"])
    def view(request: HttpRequest, tenancy_id: int, **url: int) -> HttpResponse:
        user, row = load(request, tenancy_id, **url)
        back = _next(request, _list_url(row)) if stay else _list_url(row)
        return _confirmed(request, question(row, back), lambda: start(row, user), f"{doing} {row}", back)

    return view


external_ip_attach = _row_attach(_ip, services.EXTERNAL_IPS)
#: GET asks (naming the machine that loses the address); POST detaches.
external_ip_detach = _row_confirmed(
    _ip, confirmations.external_ip_detach, services.EXTERNAL_IPS.detach, "Detaching", stay=True
)
#: GET asks (the address goes back to the cloud); POST releases.
external_ip_release = _row_confirmed(_ip, confirmations.external_ip_release, services.EXTERNAL_IPS.remove, "Releasing")


# --- volumes ----------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def volume_list(request: HttpRequest, tenancy_id: int) -> HttpResponse:
    """The tenancy's volumes, with the form to create one (POST)."""
    user = signed_in_user(request)
    tenancy, volumes = selectors.volume_list(user=user, tenancy_id=tenancy_id)
    capabilities = capabilities_get(tenancy=tenancy, user=user)
    form = VolumeCreateForm(_posted(request))
    create = lambda data: services.volume_create(tenancy=tenancy, user=user, **data)  # noqa: E731
    if created := _created(
        request, form, create, "Creating the volume {}", reverse("machines:volume-list", args=[tenancy.pk])
    ):
        return created
    attach_machines = list(selectors.machines_attachable(tenancy=tenancy))
    context = {"form": form, "capabilities": capabilities, "attach_machines": attach_machines}
    return list_page(
        request, "machines/volumes.html", tenancy, volumes, "volumes", context, status=400 if form.errors else 200
    )


def _volume(request: HttpRequest, tenancy_id: int, volume_id: int) -> tuple[User, Volume]:
    user = signed_in_user(request)
    return user, selectors.volume_get(user=user, tenancy_id=tenancy_id, volume_id=volume_id)


volume_attach = _row_attach(_volume, services.VOLUMES)
#: GET asks (naming the machine it leaves); POST detaches.
volume_detach = _row_confirmed(_volume, confirmations.volume_detach, services.VOLUMES.detach, "Detaching", stay=True)
#: GET asks (naming the volume, its size and that its data is lost); POST deletes.
volume_delete = _row_confirmed(_volume, confirmations.volume_delete, services.VOLUMES.remove, "Deleting")
