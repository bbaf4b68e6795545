"""Running one job in a worker: claim it, run its kind, record how it ended.

`apps.jobs.tasks.run_job` (the one task the backends carry) calls `job_run`.
"""

import logging
import os
import socket
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .context import JobCancelled, JobContext, JobWatcher
from .events import job_changed_publish
from .models import Job, JobLogLine, json_safe
from .registry import is_retryable, kind_get
from .services import _log, job_enqueue_on_commit, job_finish

logger = logging.getLogger("apps.jobs.runner")

# Set by `manage.py worker`; anything else running jobs (tests, the immediate
# backend) is named by host and process.
WORKER_ID = ""


def current_worker_id() -> str:
    return WORKER_ID or f"{socket.gethostname()}:{os.getpid()}"


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__


def job_run(job_id: int) -> str:
    """Run job `job_id` if it is still queued and holds its target's lock."""
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, state=Job.State.QUEUED, lock__isnull=False).update(
        state=Job.State.RUNNING,
        worker_id=current_worker_id(),
        started_at=now,
        heartbeat_at=now,
        updated_at=now,
        attempts=F("attempts") + 1,
    )
    if not claimed:
        return "skipped: not queued, or waiting for its target"
    job = Job.objects.select_related("tenancy", "target_type").get(pk=job_id)
    _log(job.pk, f"Attempt {job.attempts} of {job.max_attempts} started on {job.worker_id}.")
    job_changed_publish(tenancy_id=job.tenancy_id, job_id=job.pk)

    watcher = JobWatcher(job.pk, settings.ATRIUM_JOB_HEARTBEAT_INTERVAL)
    watcher.start()
    ctx = JobContext(job, watcher)
    try:
        kind = kind_get(job.kind)
        result = kind.func(ctx)
    except JobCancelled:
        job_finish(job=job, state=Job.State.CANCELLED, error="Cancelled on request.", message="Cancelled.")
        return "cancelled"
    except Exception as exc:
        stage = ctx.failed_stage or ctx.current_stage
        where = f" during “{stage.name}”" if stage else ""
        if is_retryable(exc) and job.attempts < job.max_attempts and not watcher.cancelled.is_set():
            delay = kind.retry_backoff * 2 ** (job.attempts - 1)
            with transaction.atomic():
                Job.objects.filter(pk=job.pk, state=Job.State.RUNNING).update(
                    state=Job.State.QUEUED, updated_at=timezone.now(), error=_error_text(exc)
                )
                _log(
                    job.pk,
                    f"Attempt {job.attempts} failed{where}: {_error_text(exc)}. Trying again in {delay:g} s.",
                    JobLogLine.Level.WARNING,
                )
                # The job keeps its target's lock while it waits to retry.
                job_enqueue_on_commit(job_id=job.pk, run_after=timezone.now() + timedelta(seconds=delay))
            job_changed_publish(tenancy_id=job.tenancy_id, job_id=job.pk)
            return "retrying"
        logger.exception("Job %s (%s) failed", job.pk, job.kind)
        error = f"Failed{where}: {_error_text(exc)}"
        job_finish(job=job, state=Job.State.FAILED, error=error, message=error)
        return "failed"
    else:
        job_finish(job=job, state=Job.State.SUCCEEDED, result=json_safe(result), message="Finished.")
        return "succeeded"
    finally:
        watcher.stopping.set()
        watcher.join(timeout=5)
