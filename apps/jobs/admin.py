from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import Job, JobLogLine, JobStage, TenancySync, WorkerHeartbeat
from .services import job_cancel


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin[WorkerHeartbeat]):
    fields = ("worker_id", "hostname", "pid", "backend", "started_at", "last_seen", "stopped_at")
    list_display = fields
    readonly_fields = fields


class JobStageInline(admin.TabularInline[JobStage, Job]):
    model = JobStage
    extra = 0
    can_delete = False
    fields = readonly_fields = ("position", "name", "state", "started_at", "finished_at")


class JobLogLineInline(admin.TabularInline[JobLogLine, Job]):
    model = JobLogLine
    extra = 0
    can_delete = False
    fields = readonly_fields = ("at", "level", "message")


@admin.register(Job)
class JobAdmin(admin.ModelAdmin[Job]):
    """Every tenancy's jobs, read-only: jobs change only through their services."""

    list_display = (
        "id",
        "kind",
        "tenancy",
        "target_repr",
        "state",
        "progress",
        "attempts",
        "requested_by",
        "created_at",
    )
    list_filter = ("state", "kind", "tenancy")
    search_fields = ("id", "kind", "target_repr", "error", "worker_id")
    date_hierarchy = "created_at"
    list_select_related = ("tenancy", "requested_by")
    readonly_fields = [f.name for f in Job._meta.fields]
    inlines = [JobStageInline, JobLogLineInline]
    actions = ["cancel_jobs"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Cancel the selected jobs")
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        cancelled = 0
        for job in queryset.filter(state__in=Job.ACTIVE_STATES):
            job_cancel(job=job, user=request.user)  # type: ignore[arg-type]  # staff: a User
            cancelled += 1
        self.message_user(request, f"Asked {cancelled} job(s) to cancel.", messages.SUCCESS)


@admin.register(TenancySync)
class TenancySyncAdmin(admin.ModelAdmin[TenancySync]):
    list_display = ("tenancy", "next_run_at", "last_job")
    list_select_related = ("tenancy", "last_job")
