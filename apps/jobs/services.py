"""Writes for jobs and worker plumbing.

A job is created in the caller's transaction and handed to the task backend
only after that transaction commits. It holds a lock on its target
(`JobLock`) from the moment it may run until it ends; a second job on a busy
target is refused (Conflict) or waits for its turn (`on_busy="wait"`).
"""

import logging
import os
import socket
from datetime import datetime, timedelta
from typing import Any, Literal

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import Model, Q
from django.template.loader import render_to_string
from django.utils import timezone

from apps.accounts.models import User
from apps.clouds.registry import cloud_acts_as_user
from apps.core.errors import Conflict
from apps.core.events import push_to_user
from apps.tenancies.models import Tenancy

from .events import job_changed_publish
from .models import Job, JobLock, JobLogLine, JobStage, TenancySync, WorkerHeartbeat
from .registry import kind_get, kind_label
from .watch import watches_rearm

logger = logging.getLogger("apps.jobs")

OnBusy = Literal["refuse", "wait"]

SYNC_KIND = "tenancy.sync"
# Seconds before the sweep hands over again a job the task backend could not take
# (a freshly created job has no task id either until its transaction commits).
UNSENT_GRACE = 5


#: A job that is not (or no longer) waiting for the cloud.
JOB_NOT_WAITING: dict[str, Any] = {"waiting_for": "", "waiting_since": None, "next_look_at": None, "watch": None}
# Seconds a job waiting for the cloud may be overdue for its next look, untouched, before the
# workers' sweep hands it to the task backend again (its task was lost).
LOOK_OVERDUE = 60


# --- creating and enqueueing -----------------------------------------------------


def _target_key(target_type: ContentType, target_id: Any) -> str:
    return f"{target_type.pk}:{target_id}"


def _lock_acquire(job: Job) -> bool:
    """Take the target's lock for `job`; False when another job holds it."""
    try:
        with transaction.atomic():
            JobLock.objects.create(target_key=job.target_key, job=job)
    except IntegrityError:
        return False
    return True


#: The task priority of a look at the cloud for a job waiting for it (`job_enqueue_on_commit(look=True)`):
#: below the default, so a worker takes a job with work to do (a new create, an action) before the
#: looks that are due. Without it a burst of creates queued behind the looks of the builds in flight
#: (the database backend orders by priority, then run_after, which a fresh job has none of).
LOOK_PRIORITY = -10
#: The task priority of a look the tenancy's cloud watcher asked for (apps.jobs.watch): the thing the
#: job waits for changed, so the job is likely to end (a build the user waits for turned active).
#: Above new work: a burst of creates, each held by the cloud's slow answer, must not delay it.
WAKE_PRIORITY = 5


def _enqueue_now(job_id: int, run_after: datetime | None = None, *, priority: int = 0) -> None:
    """Hand "run job N" to the task backend. When the backend cannot take it (Redis
    restarting), the job is marked unsent (no task id) and the workers' sweep
    (`jobs_requeue_lost`) hands it over again soon; the job's row already says what
    is to happen, so the request or job that made it goes on."""
    from .tasks import run_job

    task = run_job.using(queue_name=settings.ATRIUM_JOB_QUEUE)
    if priority and task.get_backend().supports_priority:  # Redis (rq) queues have no priorities
        task = task.using(priority=priority)
    if run_after is not None:
        task = task.using(run_after=run_after)
    try:
        result = task.enqueue(job_id)
    except Exception:
        logger.warning("Could not hand job %s to the task backend; the workers' sweep will", job_id, exc_info=True)
        Job.objects.filter(pk=job_id).update(task_id="")
        return
    Job.objects.filter(pk=job_id).update(task_id=str(result.id))


def job_enqueue_on_commit(*, job_id: int, run_after: datetime | None = None, priority: int = 0) -> None:
    """Hand the job to the task backend once the current transaction commits
    (at once outside one), so a worker never looks for a row not yet visible.
    `priority`: LOOK_PRIORITY for a job that waits for the cloud and whose run only looks,
    WAKE_PRIORITY for one the cloud watcher wakes."""
    transaction.on_commit(lambda: _enqueue_now(job_id, run_after, priority=priority))


@transaction.atomic
def job_create(
    *,
    kind: str,
    tenancy: Tenancy,
    target: Model,
    requested_by: User | None = None,
    params: dict[str, Any] | None = None,
    on_busy: OnBusy = "refuse",
) -> Job:
    """Record a job on `target` and enqueue it after the transaction commits.

    Raises Conflict when the target is busy with another job and `on_busy` is
    "refuse"; with "wait" the job stays queued until the other one ends.
    """
    job_kind = kind_get(kind)
    job = Job.objects.create(
        kind=kind,
        tenancy=tenancy,
        requested_by=requested_by,
        target_type=ContentType.objects.get_for_model(target),
        target_id=str(target.pk),
        target_repr=str(target)[:200],
        params=params or {},
        max_attempts=job_kind.max_attempts,
    )
    if _lock_acquire(job):
        job_enqueue_on_commit(job_id=job.pk)
        _log(job.pk, f"Queued by {requested_by.username if requested_by else 'Atrium'}.")
    else:
        holder = JobLock.objects.filter(target_key=job.target_key).select_related("job").first()
        busy = f"job #{holder.job.pk} ({kind_label(holder.job.kind)})" if holder else "another job"
        if on_busy == "refuse":
            raise Conflict(
                f"{job.target_repr} is busy with {busy}; try again when it has finished.",
                extra={"job_id": holder.job.pk if holder else None},
            )
        _log(job.pk, f"Waiting for {busy} on {job.target_repr} to finish.")
    transaction.on_commit(lambda: job_changed_publish(tenancy_id=tenancy.pk, job_id=job.pk, created=True))
    return job


def _log(job_id: int, message: str, level: str = JobLogLine.Level.INFO) -> None:
    JobLogLine.objects.create(job_id=job_id, message=message, level=level)
    Job.objects.filter(pk=job_id).update(updated_at=timezone.now())


def job_log(*, job: Job, message: str, level: str = JobLogLine.Level.INFO) -> None:
    _log(job.pk, message, level)
    job_changed_publish(tenancy_id=job.tenancy_id, job_id=job.pk)


# --- ending, the lock and the next in line -------------------------------------------


@transaction.atomic
def job_release(*, job: Job) -> Job | None:
    """Free the job's target and start the oldest job waiting for it, if any."""
    JobLock.objects.filter(job=job).delete()
    return _promote_next(job.target_type_id, job.target_id)


def _promote_next(target_type_id: int, target_id: str) -> Job | None:
    waiting = (
        Job.objects.filter(
            target_type_id=target_type_id, target_id=target_id, state=Job.State.QUEUED, lock__isnull=True
        )
        .order_by("created_at", "pk")
        .first()
    )
    if waiting is None or not _lock_acquire(waiting):
        return None
    _log(waiting.pk, "Its turn: the target is free.")
    job_enqueue_on_commit(job_id=waiting.pk)
    tenancy_id, job_id = waiting.tenancy_id, waiting.pk
    transaction.on_commit(lambda: job_changed_publish(tenancy_id=tenancy_id, job_id=job_id))
    return waiting


def jobs_promote_waiting() -> int:
    """Start waiting jobs whose target nobody holds (a job that ended while a
    waiting one was still being created leaves such a job behind)."""
    promoted = 0
    targets = (
        Job.objects.filter(state=Job.State.QUEUED, lock__isnull=True, cancel_requested=False)
        .values_list("target_type_id", "target_id")
        .distinct()
    )
    for target_type_id, target_id in list(targets):
        if JobLock.objects.filter(target_key=f"{target_type_id}:{target_id}").exists():
            continue
        with transaction.atomic():
            if _promote_next(target_type_id, target_id):
                promoted += 1
    return promoted


def job_finish(
    *,
    job: Job,
    state: str,
    error: str = "",
    result: Any = None,
    release: bool = True,
    message: str = "",
    from_states: tuple[str, ...] = Job.ACTIVE_STATES,
) -> bool:
    """Move a job that is in one of `from_states` to an end state; False if it was not."""
    now = timezone.now()
    with transaction.atomic():
        updates: dict[str, Any] = {
            "state": state,
            "finished_at": now,
            "updated_at": now,
            "error": error,
            **JOB_NOT_WAITING,
        }
        if state == Job.State.SUCCEEDED:
            updates.update(progress=100, result=result)
        done = Job.objects.filter(pk=job.pk, state__in=from_states).update(**updates)
        if not done:
            return False
        JobStage.objects.filter(job=job, state=JobStage.State.RUNNING).update(
            state=JobStage.State.FAILED if state == Job.State.FAILED else JobStage.State.CANCELLED, finished_at=now
        )
        if message:
            level = JobLogLine.Level.ERROR if state == Job.State.FAILED else JobLogLine.Level.INFO
            _log(job.pk, message, level)
        # Only a job whose turn it was may have changed its target (a waiting one has not).
        held = JobLock.objects.filter(job=job).exists()
        if release:
            job_release(job=job)
        if held and state != Job.State.SUCCEEDED:
            _target_settle(job.pk)
    job_changed_publish(tenancy_id=job.tenancy_id, job_id=job.pk)
    _tell_requester(job.pk)
    return True


def _target_settle(job_id: int) -> None:
    """Leave the target of a job that ended without succeeding usable, as its kind says
    (`JobKind.settle`), and start the follow-up it asks for. A failure here is logged and
    does not undo the job's end (the next sync still sees the target)."""
    job = Job.objects.select_related("tenancy", "target_type", "requested_by").get(pk=job_id)
    kind = _kind_or_none(job.kind)
    if kind is None or kind.settle is None:
        return
    try:
        with transaction.atomic():
            model = job.target_type.model_class()
            target = model._default_manager.filter(pk=job.target_id).first() if model else None
            ran = job.stages.filter(started_at__isnull=False).exists()
            follow = kind.settle(job, target, ran)
            if follow and target is not None:
                try:
                    after = job_create(kind=follow, tenancy=job.tenancy, target=target, requested_by=job.requested_by)
                except Conflict:
                    return  # another job holds the target now, and reads the cloud itself
                _log(job.pk, f"Job #{after.pk} ({kind_label(follow)}) follows {job.target_repr} until it settles.")
    except Exception:
        logger.exception("Could not settle the target of job %s (%s)", job.pk, job.kind)


def _tell_requester(job_id: int) -> None:
    """A toast on every open page of whoever asked for the job, when it ends."""
    job = Job.objects.select_related("requested_by").get(pk=job_id)
    user = job.requested_by
    if user is None or not user.is_active:
        return
    # Only while they are still a member: a job of a tenancy they left is not theirs to see.
    if not job.tenancy.memberships.filter(user=user).exists():
        return
    try:
        push_to_user(user_id=user.pk, html=render_to_string("jobs/_toast.html", {"job": job}))
    except Exception:
        logger.warning("Could not tell the requester of job %s that it ended", job_id, exc_info=True)


def job_cancel(*, job: Job, user: User | None) -> Job:
    """Cancel a job: a queued one at once, a running one cooperatively (its
    code stops at the next check; a subprocess it runs is killed)."""
    who = user.username if user else "Atrium"
    # A job moves between queued and running while it waits for the cloud (running for each look):
    # whichever it is when we act, it is cancelled (a few rounds cover a look starting or ending).
    for _ in range(5):
        job.refresh_from_db()
        if not job.is_active:
            raise Conflict(f"Job #{job.pk} has already {job.state}; there is nothing to cancel.")
        if job.state == Job.State.QUEUED and job_finish(
            job=job,
            state=Job.State.CANCELLED,
            error=f"Cancelled by {who}.",
            message=f"Cancelled by {who}.",
            from_states=(Job.State.QUEUED,),
        ):
            break
        if job.cancel_requested:
            break
        updated = Job.objects.filter(pk=job.pk, state=Job.State.RUNNING, cancel_requested=False).update(
            cancel_requested=True, updated_at=timezone.now()
        )
        if updated:
            job_log(job=job, message=f"Cancellation requested by {who}.", level=JobLogLine.Level.WARNING)
            break
    job.refresh_from_db()
    return job


# --- recovery ------------------------------------------------------------------------


def jobs_recover_stale(*, now: datetime | None = None) -> list[Job]:
    """Running jobs whose worker died: resume them (if their kind says that is
    safe and attempts remain) or fail them with a message saying what happened.

    A job is stale when its own heartbeat is older than the worker timeout and
    its worker has no live heartbeat either.
    """
    now = now or timezone.now()
    timeout = timedelta(seconds=settings.ATRIUM_WORKER_HEARTBEAT_TIMEOUT)
    alive = WorkerHeartbeat.objects.alive(timeout=timeout).values("worker_id")
    stale = Job.objects.filter(state=Job.State.RUNNING, heartbeat_at__lt=now - timeout).exclude(worker_id__in=alive)
    recovered = []
    for job in stale:
        # Claim it: only one worker's sweep may act on it.
        claimed = Job.objects.filter(pk=job.pk, state=Job.State.RUNNING, heartbeat_at=job.heartbeat_at).update(
            heartbeat_at=now
        )
        if not claimed:
            continue
        heartbeat = WorkerHeartbeat.objects.filter(worker_id=job.worker_id).first()
        where = f"{heartbeat.hostname}:{heartbeat.pid}" if heartbeat else (job.worker_id or "unknown")
        lost = f"The worker running this job ({where}) stopped unexpectedly"
        kind = _kind_or_none(job.kind)
        if job.next_look_at is not None and not job.cancel_requested:
            # It died looking at the cloud for a job waiting for it: a look only reads, so the job
            # looks again (its stages as they were, its deadline unchanged, no attempt spent).
            with transaction.atomic():
                Job.objects.filter(pk=job.pk).update(
                    state=Job.State.QUEUED, worker_id="", next_look_at=now, updated_at=now
                )
                _log(job.pk, f"{lost} while it looked at the cloud; looking again.", JobLogLine.Level.WARNING)
                job_enqueue_on_commit(job_id=job.pk)
            job_changed_publish(tenancy_id=job.tenancy_id, job_id=job.pk)
        elif kind is not None and kind.resumable and job.attempts < job.max_attempts and not job.cancel_requested:
            with transaction.atomic():
                Job.objects.filter(pk=job.pk).update(state=Job.State.QUEUED, worker_id="", updated_at=now)
                JobStage.objects.filter(job=job, state=JobStage.State.RUNNING).update(
                    state=JobStage.State.FAILED, finished_at=now
                )
                _log(job.pk, f"{lost}; running it again.", JobLogLine.Level.WARNING)
                job_enqueue_on_commit(job_id=job.pk)
            job_changed_publish(tenancy_id=job.tenancy_id, job_id=job.pk)
        else:
            state = Job.State.CANCELLED if job.cancel_requested else Job.State.FAILED
            message = (
                f"{lost} while it ran. It was not run again, as it is not safe to repeat; "
                "the next sync re-reads what it had changed."
            )
            job_finish(job=job, state=state, error=message, message=message)
            # Re-read the tenancy from its cloud soon, so whatever the job did is seen.
            TenancySync.objects.filter(tenancy_id=job.tenancy_id).update(next_run_at=now)
        logger.warning("Recovered job %s from dead worker %s", job.pk, where)
        job.refresh_from_db()
        recovered.append(job)
    return recovered


def jobs_requeue_lost(*, now: datetime | None = None) -> list[Job]:
    """Queued jobs whose turn it is (they hold their target) but that no worker
    has taken for ATRIUM_JOB_REQUEUE_AFTER seconds: their task was lost (a
    worker died between taking the task and starting the job, a Redis without
    persistence restarted). Hand them to the backend again; a duplicate task is
    harmless, as only one worker can move the job from queued to running."""
    now = now or timezone.now()
    quiet_since = now - timedelta(seconds=settings.ATRIUM_JOB_REQUEUE_AFTER)
    # Jobs the backend could not take (no task id, see `_enqueue_now`) go again after a moment.
    unsent_since = now - timedelta(seconds=UNSENT_GRACE)
    # Jobs waiting for the cloud whose next look is long overdue, untouched meanwhile, go again too.
    overdue = now - timedelta(seconds=LOOK_OVERDUE)
    lost = Job.objects.filter(state=Job.State.QUEUED, lock__isnull=False).filter(
        Q(updated_at__lt=quiet_since)
        | Q(task_id="", updated_at__lt=unsent_since)
        | Q(next_look_at__lt=overdue, updated_at__lt=overdue)
    )
    requeued = []
    for job in lost:
        with transaction.atomic():
            claimed = Job.objects.filter(pk=job.pk, state=Job.State.QUEUED, updated_at=job.updated_at).update(
                updated_at=now
            )
            if not claimed:
                continue
            _log(job.pk, "No worker took this job for a while; handed to the task backend again.")
            look_at = job.next_look_at if job.next_look_at and job.next_look_at > now else None
            priority = LOOK_PRIORITY if job.next_look_at is not None else 0
            job_enqueue_on_commit(job_id=job.pk, run_after=look_at, priority=priority)
        requeued.append(job)
    return requeued


def _kind_or_none(name: str) -> Any:
    try:
        return kind_get(name)
    except Exception:  # noqa: BLE001 - an unknown kind is simply not resumable
        return None


# --- the periodic tenancy sync ---------------------------------------------------------


def tenancy_sync_start(*, tenancy: Tenancy, requested_by: User | None = None) -> Job:
    """Refresh a tenancy's observed state now (the "Refresh now" button)."""
    return job_create(kind=SYNC_KIND, tenancy=tenancy, target=tenancy, requested_by=requested_by)


def tenancy_syncs_start_due(*, now: datetime | None = None) -> list[Job]:
    """Start the syncs that are due. Every worker calls this from its loop; a
    conditional UPDATE of the schedule row lets exactly one of them start each.

    Tenancies on a cloud with per-user federation are skipped (logged once per
    interval): such a cloud acts only as the person who asked, and no one asks
    for the periodic sync. Their members' "Refresh now" syncs them as that member.
    """
    interval = settings.ATRIUM_SYNC_INTERVAL
    if interval <= 0:
        return []
    now = now or timezone.now()
    missing = Tenancy.objects.filter(sync_schedule__isnull=True).values_list("pk", flat=True)
    TenancySync.objects.bulk_create(
        [TenancySync(tenancy_id=pk, next_run_at=now) for pk in missing], ignore_conflicts=True
    )
    started = []
    for schedule in TenancySync.objects.filter(next_run_at__lte=now).select_related("tenancy__cloud"):
        claimed = TenancySync.objects.filter(pk=schedule.pk, next_run_at=schedule.next_run_at).update(
            next_run_at=now + timedelta(seconds=interval)
        )
        if not claimed:
            continue  # another worker took it
        if cloud_acts_as_user(schedule.tenancy.cloud):
            logger.info(
                "Periodic sync of tenancy %s skipped: its cloud %s uses per-user federation, so only a "
                "member's 'Refresh now' (run as that member) can sync it.",
                schedule.tenancy.name,
                schedule.tenancy.cloud.name,
            )
            continue
        try:
            job = tenancy_sync_start(tenancy=schedule.tenancy)
        except Conflict:
            continue  # a sync (or other job) on the tenancy is running; the next round catches up
        TenancySync.objects.filter(pk=schedule.pk).update(last_job=job)
        started.append(job)
    return started


# --- worker heartbeats ---------------------------------------------------------------


def worker_heartbeat_start(*, worker_id: str, backend: str) -> WorkerHeartbeat:
    # Rows of workers gone for a day are only noise.
    WorkerHeartbeat.objects.filter(last_seen__lt=timezone.now() - timedelta(days=1)).delete()
    heartbeat, _ = WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
            "backend": backend,
            "started_at": timezone.now(),
            "last_seen": timezone.now(),
            "stopped_at": None,
        },
    )
    return heartbeat


def worker_heartbeat_beat(*, worker_id: str) -> None:
    WorkerHeartbeat.objects.filter(worker_id=worker_id).update(last_seen=timezone.now())


def worker_heartbeat_stop(*, worker_id: str) -> None:
    WorkerHeartbeat.objects.filter(worker_id=worker_id).update(stopped_at=timezone.now())


def worker_maintenance() -> None:
    """What every worker does between heartbeats: recover jobs of dead workers,
    start jobs left waiting, give again the cloud watchers' lost rounds, and start
    due tenancy syncs. Safe with many workers."""
    jobs_recover_stale()
    jobs_requeue_lost()
    jobs_promote_waiting()
    watches_rearm()
    tenancy_syncs_start_due()
