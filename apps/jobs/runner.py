"""Running one job in a worker: claim it, run its kind, record how it ended.

`apps.jobs.tasks.run_job` (the one task the backends carry) calls `job_run`.
"""

import logging
import os
import socket
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import TypeVar

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import Case, F, PositiveSmallIntegerField, Q, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from .context import JobCancelled, JobContext, JobWaits, JobWatcher
from .events import job_changed_publish
from .models import Job, JobLogLine, json_safe
from .registry import DATABASE_GONE, is_retryable, kind_get
from .services import LOOK_PRIORITY, _log, job_enqueue_on_commit, job_finish
from .watch import watch_arm

logger = logging.getLogger("apps.jobs.runner")
T = TypeVar("T")
# Seconds a task may come before the look it was queued for (another host's clock): earlier, it is
# a duplicate (the job was handed over twice) and is dropped, so a job never looks before its time.
LOOK_TOLERANCE = 0.5
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
        # A wait in progress stays recorded (the retry looks again, its deadline unchanged); the
        # retry is an attempt, not a look.
        Job.objects.filter(pk=job.pk, state=Job.State.RUNNING).update(
            state=Job.State.QUEUED, updated_at=timezone.now(), error=failure, next_look_at=None
        )
        _log(job.pk, f"{failure}. Trying again in {delay:g} s.", JobLogLine.Level.WARNING)
        # The job keeps its target's lock while it waits to retry.
        job_enqueue_on_commit(job_id=job.pk, run_after=timezone.now() + timedelta(seconds=delay))


def _look_later(job: Job, waits: JobWaits, *, enqueue: bool) -> bool:
    """Give the worker back: the job, waiting for the cloud, is queued again for its next look,
    holding its target's lock (handed to the task backend to run then, if `enqueue`). False if it
    was cancelled meanwhile (the caller ends it)."""
    # Where a task can run later, the tenancy's watcher follows what the job waits for: the job
    # looks again when that changes, or on its own only after ATRIUM_WATCH_BACKSTOP seconds.
    watch = waits.watch if enqueue else None
    delay = max(waits.delay, settings.ATRIUM_WATCH_BACKSTOP) if watch else waits.delay
    look_at = timezone.now() + timedelta(seconds=delay)
    moved = {} if waits.progress is None else {"progress": Greatest(F("progress"), Value(waits.progress))}
    with transaction.atomic():
        queued = Job.objects.filter(
            pk=job.pk, state=Job.State.RUNNING, cancel_requested=False
        ).update(
            state=Job.State.QUEUED,  # worker_id stays: the worker that looked last
            waiting_for=waits.what[:200],
            waiting_since=waits.since,
            next_look_at=look_at,
            watch=watch,
            updated_at=timezone.now(),
            **moved,
        )
        if queued and enqueue:
            if watch:
                watch_arm(tenancy_id=job.tenancy_id, family=watch["family"])
            job_enqueue_on_commit(job_id=job.pk, run_after=look_at, priority=LOOK_PRIORITY)
    return bool(queued)


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
    """Move the job from queued to running for this worker. A job waiting for the cloud is claimed
    only when its next look is due (an earlier task is a duplicate), and a look spends no attempt."""
    now = timezone.now()
    due = Q(next_look_at__isnull=True) | Q(next_look_at__lte=now + timedelta(seconds=LOOK_TOLERANCE))
    return Job.objects.filter(due, pk=job_id, state=Job.State.QUEUED, lock__isnull=False).update(
        state=Job.State.RUNNING,
        worker_id=current_worker_id(),
        started_at=Coalesce(F("started_at"), Value(now)),
        heartbeat_at=now,
        updated_at=now,
        attempts=Case(
            When(next_look_at__isnull=True, then=F("attempts") + 1),
            default=F("attempts"),
            output_field=PositiveSmallIntegerField(),
        ),
    )


def job_run(job_id: int, *, requeue_waits: bool = False) -> str:
    """Run job `job_id` if it is still queued (and due) and holds its target's lock. A job that
    waits for the cloud is queued again for its next look (`requeue_waits`: what workers do) or,
    by default (tests, tools, a task backend that cannot run a task later), looked at again here
    after sleeping until its next look, until it ends."""
    while True:
        outcome = _run_once(job_id, requeue_waits=requeue_waits)
        if outcome != "waiting" or requeue_waits:
            return outcome
        look_at = Job.objects.filter(pk=job_id).values_list("next_look_at", flat=True).first()
        if look_at is not None:
            time.sleep(max(0.0, (look_at - timezone.now()).total_seconds()))


def _cancelled(job: Job) -> str:
    _patiently(
        lambda: job_finish(job=job, state=Job.State.CANCELLED, error="Cancelled on request.", message="Cancelled.")
    )
    return "cancelled"


def _run_once(job_id: int, *, requeue_waits: bool) -> str:
    claimed = _patiently(lambda: _claim(job_id))
    if not claimed:
        return "skipped: not queued, not due, or waiting for its target"
    # All a run of a kind reads of its job, at once: a look at the cloud is one of many.
    job = Job.objects.select_related("tenancy__cloud", "target_type", "requested_by").get(pk=job_id)
    if job.next_look_at is None:  # a look at the cloud is not an attempt (and shows as one wait)
        _log(job.pk, f"Attempt {job.attempts} of {job.max_attempts} started on {job.worker_id}.")
        job_changed_publish(tenancy_id=job.tenancy_id, job_id=job.pk)

    watcher = JobWatcher(job.pk, settings.ATRIUM_JOB_HEARTBEAT_INTERVAL)
    watcher.start()
    ctx = JobContext(job, watcher)
    try:
        kind = kind_get(job.kind)
        result = kind.func(ctx)
    except JobWaits as waits:
        if _patiently(partial(_look_later, job, waits, enqueue=requeue_waits)):
            job_changed_publish(tenancy_id=job.tenancy_id, job_id=job.pk)
            return "waiting"
        return _cancelled(job)  # asked to stop while it looked
    except JobCancelled:
        return _cancelled(job)
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
