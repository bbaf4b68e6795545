"""Job pages: a tenancy's jobs, a job (stages, progress, log), cancel, "Refresh
now", and the operators' page. They work with plain reloads; with JavaScript
the tenancy websocket (apps.jobs.consumers) keeps them live."""

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.core.errors import ApplicationError

from .filtersets import JobFilterSet
from .live import object_page
from .models import Job
from .selectors import job_get_for_user, job_list_for_operators, job_list_for_tenancy, job_log_lines
from .services import SYNC_KIND, job_cancel, tenancy_sync_start

LOG_LINES_SHOWN = 1000


@login_required
def job_list(request: HttpRequest, tenancy_id: int) -> HttpResponse:
    tenancy, jobs = job_list_for_tenancy(user=request.user, tenancy_id=tenancy_id)
    filterset = JobFilterSet(request.GET or None, queryset=jobs)
    page = Paginator(filterset.qs, 50).get_page(request.GET.get("page"))
    filtered = bool(filterset.form.data) and any(filterset.form.data.get(k) for k in ("state", "kind"))
    return render(
        request,
        "jobs/list.html",
        {
            "tenancy": tenancy,
            "filter": filterset,
            "page": page,
            "jobs": page.object_list,
            # New jobs appear live only where they belong: the first, unfiltered page.
            "filtered": filtered,
            "live_new": page.number == 1 and not filtered,
        },
    )


@login_required
def job_detail(request: HttpRequest, tenancy_id: int, job_id: int) -> HttpResponse:
    job = job_get_for_user(user=request.user, job_id=job_id, tenancy_id=tenancy_id)
    lines = job_log_lines(job=job, limit=LOG_LINES_SHOWN)
    return render(
        request,
        "jobs/detail.html",
        {
            "tenancy": job.tenancy,
            "job": job,
            "stages": job.stages.all(),
            "log_lines": lines,
            "log_after": lines[-1].pk if lines else 0,
            "target_url": object_page(job.target_type.model_class(), job.tenancy_id, job.target_id),
        },
    )


@login_required
@require_POST
def job_cancel_view(request: HttpRequest, tenancy_id: int, job_id: int) -> HttpResponse:
    job = job_get_for_user(user=request.user, job_id=job_id, tenancy_id=tenancy_id)
    try:
        job = job_cancel(job=job, user=request.user)  # type: ignore[arg-type]  # login_required: a User
    except ApplicationError as exc:
        level, notice = messages.ERROR, exc.message
    else:
        if job.state == Job.State.CANCELLED:
            level, notice = messages.SUCCESS, f"Job #{job.pk} is cancelled."
        else:
            level, notice = messages.INFO, f"Job #{job.pk} is stopping; it ends at its next safe point."
    if request.htmx:  # type: ignore[attr-defined]  # django-htmx's middleware
        job.refresh_from_db()
        return render(request, "jobs/_summary.html", {"job": job, "stages": job.stages.all(), "notice": notice})
    messages.add_message(request, level, notice)
    return redirect("jobs:detail", tenancy_id=tenancy_id, job_id=job_id)


@login_required
@require_POST
def tenancy_sync_view(request: HttpRequest, tenancy_id: int) -> HttpResponse:
    tenancy, _ = job_list_for_tenancy(user=request.user, tenancy_id=tenancy_id)
    try:
        job = tenancy_sync_start(tenancy=tenancy, requested_by=request.user)  # type: ignore[arg-type]
    except ApplicationError as exc:
        busy_with = exc.extra.get("job_id")
        if busy_with and Job.objects.filter(pk=busy_with, kind=SYNC_KIND).exists():
            # Already refreshing (the periodic sync, or someone else's click): follow that one.
            messages.info(request, f"{tenancy.name} is being refreshed already: job #{busy_with}.")
            return redirect("jobs:detail", tenancy_id=tenancy_id, job_id=busy_with)
        messages.error(request, exc.message)
        return redirect("tenancies:detail", tenancy_id=tenancy_id)
    messages.success(request, f"Refreshing {tenancy.name}: job #{job.pk} started.")
    return redirect("jobs:detail", tenancy_id=tenancy_id, job_id=job.pk)


@staff_member_required
def operator_jobs(request: HttpRequest) -> HttpResponse:
    jobs = job_list_for_operators()
    return render(
        request,
        "jobs/operators.html",
        {
            "sections": [
                ("Queued and running", jobs.filter(state__in=Job.ACTIVE_STATES).order_by("created_at")[:200]),
                ("Failed recently", jobs.filter(state=Job.State.FAILED).order_by("-finished_at")[:100]),
            ]
        },
    )
