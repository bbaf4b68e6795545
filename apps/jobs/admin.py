from django.contrib import admin

from .models import WorkerHeartbeat


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin[WorkerHeartbeat]):
    fields = ("worker_id", "hostname", "pid", "backend", "started_at", "last_seen", "stopped_at")
    list_display = fields
    readonly_fields = fields
