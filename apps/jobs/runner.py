"""Running one job in a worker: claim it, run its kind, record how it ended.

`apps.jobs.tasks.run_job` (the one task the backends carry) calls `job_run`.
"""

import logging
import os
import socket
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import F
from django.utils import timezone

from .context import JobCancelled, JobContext, JobWatcher
from .events import job_changed_publish
from .models import Job, JobLogLine, json_safe
from .registry import DATABASE_GONE, is_retryable, kind_get
from .services import _log, job_enqueue_on_commit, job_finish

logger = logging.getLogger("apps.jobs.runner")
T = TypeVar("T")
# Seconds a worker waits for a database that went away before it gives up recording a job's
# state (the job is then left to the recovery sweep of whichever worker sees the database first).
DATABASE_PATIENCE = 120

# Set by `manage.py worker`; anything else running jobs (tests, the immediate
# backend) is named by host and process.
WORKER_ID = ""


def current_worker_id() -> str:
    return WORKER_ID or f"{socket.gethostname()}:{os.getpid()}"


def _retry_later(job: Job, failure: str, delay: float) -> None:
    with transaction.atomic():
        Job.objects.filter(pk=job.pk, state=Job.State.RUNNING).update(
            state=Job.State.QUEUED, updated_at=timezone.now(), error=failure
        )
        _log(job.pk, f"{failure}. Trying again in {delay:g} s.", JobLogLine.Level.WARNING)
        # The job keeps its target's lock while it waits to retry.
        job_enqueue_on_commit(job_id=job.pk, run_after=timezone.now() + timedelta(seconds=delay))


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__


def _patiently(write: Callable[[], T]) -> T:
    """Run a write of the job's state, waiting (up to DATABASE_PATIENCE seconds) for a
    database that went away (restarted, failed over) to come back: a job must not be left
    "running" because its end could not be recorded the moment the database restarted."""
    deadline = time.monotonic() + DATABASE_PATIENCE
    while True:
        try:
            return write()
        except DATABASE_GONE:
            if time.monotonic() > deadline:
                raise
            logger.warning("The database is unreachable; trying again in 1 s", exc_info=True)
            time.sleep(1)
            close_old_connections()  # drops the broken connection; the next query opens a new one


def _claim(job_id: int) -> int:
    now = timezone.now()
    return Job.objects.filter(pk=job_id, state=Job.State.QUEUED, lock__isnull=False).update(
        state=Job.State.RUNNING,
        worker_id=current_worker_id(),
        started_at=now,
        heartbeat_at=now,
        updated_at=now,
        attempts=F("attempts") + 1,
    )


def job_run(job_id: int) -> str:
    """Run job `job_id` if it is still queued and holds its target's lock."""
    claimed = _patiently(lambda: _claim(job_id))
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
        _patiently(
            lambda: job_finish(job=job, state=Job.State.CANCELLED, error="Cancelled on request.", message="Cancelled.")
        )
        return "cancelled"
    except Exception as exc:
        if isinstance(exc, DATABASE_GONE):
            close_old_connections()  # the job's connection broke: the records below open a new one
        stage = ctx.failed_stage or ctx.current_stage
        where = f" during “{stage.name}”" if stage else ""
        if is_retryable(exc) and job.attempts < job.max_attempts and not watcher.cancelled.is_set():
            delay = kind.retry_backoff * 2 ** (job.attempts - 1)
            failure = f"Attempt {job.attempts} failed{where}: {_error_text(exc)}"
            _patiently(lambda: _retry_later(job, failure, delay))
            job_changed_publish(tenancy_id=job.tenancy_id, job_id=job.pk)
            return "retrying"
        logger.exception("Job %s (%s) failed", job.pk, job.kind)
        error = f"Failed{where}: {_error_text(exc)}"
        _patiently(lambda: job_finish(job=job, state=Job.State.FAILED, error=error, message=error))
        return "failed"
    else:
        _patiently(
            lambda: job_finish(job=job, state=Job.State.SUCCEEDED, result=json_safe(result), message="Finished.")
        )
        return "succeeded"
    finally:
        watcher.stopping.set()
        watcher.join(timeout=5)
