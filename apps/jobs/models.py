from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone


class WorkerHeartbeatQuerySet(models.QuerySet["WorkerHeartbeat"]):
    def alive(self, *, timeout: timedelta) -> "WorkerHeartbeatQuerySet":
        return self.filter(stopped_at__isnull=True, last_seen__gte=timezone.now() - timeout)


class WorkerHeartbeat(models.Model):
    """One row per worker process, touched every few seconds while it runs.

    /healthz reads it; job recovery uses it to find jobs whose worker died.
    """

    worker_id = models.CharField(max_length=64, unique=True)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    backend = models.CharField(max_length=100)
    started_at = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now, db_index=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    objects = WorkerHeartbeatQuerySet.as_manager()

    class Meta:
        ordering = ["-last_seen"]

    def __str__(self) -> str:
        return f"{self.hostname}:{self.pid} ({self.worker_id})"


class Job(models.Model):
    """A piece of background work on one target, run by a worker in stages.

    The row is the truth users and operators see: state, stages, log lines,
    progress, attempts, result or error. The task backend only carries
    "run job N" messages (`apps.jobs.tasks.run_job`).
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE_STATES = (State.QUEUED, State.RUNNING)
    FINAL_STATES = (State.SUCCEEDED, State.FAILED, State.CANCELLED)

    kind = models.CharField(max_length=100, db_index=True)
    tenancy = models.ForeignKey("tenancies.Tenancy", on_delete=models.CASCADE, related_name="jobs")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs"
    )
    # The object the job changes (a machine, a platform, the tenancy itself...).
    target_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    target_id = models.CharField(max_length=64)
    target_repr = models.CharField(max_length=200, blank=True, help_text="The target's name when the job was made.")
    params = models.JSONField(default=dict, blank=True)

    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done, 0-100.")
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=1)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    # A job waiting for the cloud gives its worker back between looks (`apps.core.resources.jobs.wait`):
    # it is queued again for its next look. What it waits for, since when (its deadline counts from
    # then), and when it looks next (set while it waits for a look or takes one; see README "Jobs").
    waiting_for = models.CharField(max_length=200, blank=True, help_text="What the job waits for on the cloud.")
    waiting_since = models.DateTimeField(
        null=True, blank=True, help_text="Since when it waits for the cloud (its deadline counts from then)."
    )
    next_look_at = models.DateTimeField(null=True, blank=True, help_text="When a job waiting for the cloud looks next.")
    # A wait a tenancy's watcher follows (apps.jobs.watch): what it watches, what the job's last look
    # saw of it, and how its progress moves meanwhile. The watcher wakes the job when that changes.
    watch = models.JSONField(null=True, blank=True, help_text="The cloud watcher's view of this wait.")

    worker_id = models.CharField(max_length=64, blank=True)
    task_id = models.CharField(max_length=64, blank=True, help_text="The task backend's id of the last enqueue.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life while running.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["target_type", "target_id", "state"], name="job_target_state"),
            models.Index(fields=["tenancy", "-created_at"], name="job_tenancy_created"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} on {self.target_repr or self.target_id} ({self.state})"

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE_STATES

    @property
    def can_cancel(self) -> bool:
        return self.is_active and not self.cancel_requested

    @property
    def kind_label(self) -> str:
        from .registry import kind_label

        return kind_label(self.kind)

    @property
    def target_key(self) -> str:
        return f"{self.target_type_id}:{self.target_id}"

    @property
    def duration(self) -> timedelta | None:
        if self.started_at is None:
            return None
        return (self.finished_at or timezone.now()) - self.started_at


class JobStage(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="stages")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=100)
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "position"]
        constraints = [models.UniqueConstraint(fields=["job", "position"], name="jobstage_unique_position")]

    def __str__(self) -> str:
        return f"{self.name} ({self.state})"


class JobLogLine(models.Model):
    class Level(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="log_lines")
    at = models.DateTimeField(default=timezone.now)
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.INFO)
    message = models.TextField()

    class Meta:
        ordering = ["job", "id"]

    def __str__(self) -> str:
        return f"{self.at:%H:%M:%S} {self.message}"


class JobLock(models.Model):
    """The one active job allowed to change a target. The unique key is the lock:
    whoever inserts the row holds it; finishing the job deletes it."""

    target_key = models.CharField(max_length=100, unique=True)
    job = models.OneToOneField(Job, on_delete=models.CASCADE, related_name="lock")
    acquired_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.target_key} held by job #{self.job_id}"


class TenancySync(models.Model):
    """When a tenancy's periodic sync runs next. A worker claims a due row with
    a conditional UPDATE, so the sync starts once however many workers run,
    and the schedule survives restarts because it lives here."""

    tenancy = models.OneToOneField("tenancies.Tenancy", on_delete=models.CASCADE, related_name="sync_schedule")
    next_run_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_job = models.ForeignKey(Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    def __str__(self) -> str:
        return f"sync of {self.tenancy} next at {self.next_run_at:%Y-%m-%d %H:%M:%S}"


class CloudWatch(models.Model):
    """One watcher of a tenancy's things of one family on the cloud (apps.jobs.watch): while jobs
    wait for such things, one list call every ATRIUM_WATCH_INTERVAL seconds, and only the jobs whose
    thing changed look again. A worker claims a due round with a conditional UPDATE."""

    tenancy = models.ForeignKey("tenancies.Tenancy", on_delete=models.CASCADE, related_name="cloud_watches")
    family = models.CharField(max_length=50)
    due_at = models.DateTimeField(null=True, blank=True, help_text="The next round; empty while nothing waits.")
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="When a worker took the round it runs now.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenancy", "family"], name="cloudwatch_unique_family")]

    def __str__(self) -> str:
        return f"{self.family} of {self.tenancy}"


def json_safe(value: Any) -> Any:
    """What a job kind returns, stored as JSON (anything else as its text)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return str(value)
