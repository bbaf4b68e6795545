"""One watcher per tenancy and family of things on the cloud, for the jobs waiting for them.

A job waiting for the cloud (`apps.core.resources.jobs.wait(..., watch=(family, cloud_id))`)
records what its last look saw of the thing it waits for: a fingerprint (for a server, its status
and addresses). While such jobs wait, a round every ATRIUM_WATCH_INTERVAL seconds lists the
tenancy's things of that family once (one cloud call however many jobs wait) and wakes only the
jobs whose thing looks different now, or is gone: they look at once, and decide. The others stay
queued and move their progress here; they look on their own only every ATRIUM_WATCH_BACKSTOP
seconds, should rounds stop (a family whose listing fails, a round lost with its worker).

Rounds are tasks of the task backend (`apps.jobs.tasks.watch_cloud`), not jobs: they change
nothing, so they have no history to show. A worker claims a due round with a conditional UPDATE
of its `CloudWatch` row, so a duplicate task is harmless; a round claimed by a worker that died is
taken again after WATCH_LOST seconds (by the next arm, or the workers' sweep).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .events import job_changed_publish
from .models import CloudWatch, Job

if TYPE_CHECKING:
    from apps.accounts.models import User
    from apps.tenancies.models import Tenancy

logger = logging.getLogger("apps.jobs.watch")

#: What a listing says of a thing the cloud no longer has.
GONE = "gone"
#: Seconds after which a round not taken, or taken by a worker that died, is given again.
WATCH_LOST = 10.0
#: Seconds a round's task may come before it is due (another host's clock).
WATCH_TOLERANCE = 0.5
#: Above the default: a round is one cheap call that decides when every waiting job looks.
WATCH_PRIORITY = 10
#: Points a waiting job's progress moves before a round records (and announces) it.
PROGRESS_STEP = 5


@dataclass(frozen=True)
class WatchFamily:
    """How to watch things of one family: `listing(tenancy, user)` lists the tenancy's things (one
    cloud call) as {cloud id: fingerprint}, acting as `user` (a waiting job's requester);
    `fingerprint(thing)` is the same for one thing a job's look saw (None: it is gone)."""

    name: str
    listing: Callable[[Tenancy, User | None], Mapping[str, str]]
    fingerprint: Callable[[Any], str]


FAMILIES: dict[str, WatchFamily] = {}


def watch_family(
    name: str,
    *,
    listing: Callable[[Tenancy, User | None], Mapping[str, str]],
    fingerprint: Callable[[Any], str],
) -> WatchFamily:
    """Declare a family the watcher can follow (an app's jobs module, at start-up)."""
    family = WatchFamily(name, listing, fingerprint)
    FAMILIES[name] = family
    return family


def watched(family: str, cloud_id: str, seen: Any) -> dict[str, Any]:
    """A wait's record for the watcher (`Job.watch`): the thing, and what the job's look saw of it."""
    return {"family": family, "id": cloud_id, "seen": FAMILIES[family].fingerprint(seen)}


def watch_arm(*, tenancy_id: int, family: str) -> None:
    """Make sure a round of `family` for the tenancy is coming (inside the transaction that records
    a job's wait: the row lock orders it with a round deciding that nothing waits any more)."""
    mine = CloudWatch.objects.select_for_update().filter(tenancy_id=tenancy_id, family=family)
    watch = mine.first()  # one query, but for the tenancy's first wait
    if watch is None:
        CloudWatch.objects.get_or_create(tenancy_id=tenancy_id, family=family)
        watch = mine.get()
    now = timezone.now()
    lost = now - timedelta(seconds=WATCH_LOST)
    idle = watch.due_at is None and watch.claimed_at is None
    stuck = (watch.claimed_at or watch.due_at or now) < lost
    if idle or stuck:
        _schedule(watch, now + timedelta(seconds=settings.ATRIUM_WATCH_INTERVAL))


def watches_rearm(*, now: datetime | None = None) -> int:
    """The workers' sweep: rounds lost (never taken, or their worker died) are given again."""
    now = now or timezone.now()
    lost = now - timedelta(seconds=WATCH_LOST)
    count = 0
    stuck = CloudWatch.objects.filter(Q(claimed_at__lt=lost) | Q(claimed_at__isnull=True, due_at__lt=lost))
    for pk in stuck.values_list("pk", flat=True):
        with transaction.atomic():
            watch = CloudWatch.objects.select_for_update().get(pk=pk)
            if (watch.claimed_at or watch.due_at or now) < lost:
                _schedule(watch, now)
                count += 1
    return count


def _schedule(watch: CloudWatch, due: datetime) -> None:
    CloudWatch.objects.filter(pk=watch.pk).update(due_at=due, claimed_at=None)
    transaction.on_commit(lambda: _enqueue(watch.pk, due))


def _enqueue(watch_id: int, due: datetime) -> None:
    from .tasks import watch_cloud

    task = watch_cloud.using(queue_name=settings.ATRIUM_JOB_QUEUE, run_after=due)
    if task.get_backend().supports_priority:
        task = task.using(priority=WATCH_PRIORITY)
    try:
        task.enqueue(watch_id)
    except Exception:
        logger.warning("Could not hand watch %s to the task backend; the workers' sweep will", watch_id, exc_info=True)


def _waiting(watch: CloudWatch) -> Any:
    return Job.objects.filter(
        tenancy_id=watch.tenancy_id, state=Job.State.QUEUED, next_look_at__isnull=False, watch__family=watch.family
    )


def watch_round(watch_id: int) -> str:
    """One round: list the family's things once, wake the jobs whose thing changed, move the
    progress of the others, and schedule the next round while any still wait."""
    now = timezone.now()
    due = Q(due_at__lte=now + timedelta(seconds=WATCH_TOLERANCE))
    free = Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - timedelta(seconds=WATCH_LOST))
    if not CloudWatch.objects.filter(due, free, pk=watch_id).update(claimed_at=now):
        return "skipped: not due, or taken"
    watch = CloudWatch.objects.select_related("tenancy__cloud").get(pk=watch_id)
    jobs = list(_waiting(watch).select_related("requested_by").only(*JOB_FIELDS))
    family = FAMILIES.get(watch.family)
    woken = 0
    if jobs and family is not None:
        try:
            seen = family.listing(watch.tenancy, jobs[0].requested_by)
        except Exception:
            logger.warning("Watching %s failed; its jobs look on their own meanwhile", watch, exc_info=True)
            seen = None
        for job in jobs:
            if seen is not None and seen.get(job.watch["id"], GONE) != job.watch["seen"]:
                woken += _wake(job)
            else:
                _move(job)
    with transaction.atomic():
        watch = CloudWatch.objects.select_for_update().get(pk=watch_id)
        if not _waiting(watch).exists():
            CloudWatch.objects.filter(pk=watch_id).update(due_at=None, claimed_at=None)
            return f"woke {woken} of {len(jobs)}; nothing waits now"
        # Rounds start ATRIUM_WATCH_INTERVAL apart (a slow listing does not stretch that), one at a time.
        _schedule(watch, max(timezone.now(), now + timedelta(seconds=settings.ATRIUM_WATCH_INTERVAL)))
    return f"woke {woken} of {len(jobs)}"


JOB_FIELDS = ("pk", "tenancy_id", "requested_by", "progress", "watch", "waiting_since", "next_look_at")


def _wake(job: Job) -> int:
    """The job's thing changed: it looks now (if it still waits for a later look)."""
    from .services import WAKE_PRIORITY, job_enqueue_on_commit

    now = timezone.now()
    if not Job.objects.filter(pk=job.pk, state=Job.State.QUEUED, next_look_at__gt=now).update(next_look_at=now):
        return 0
    job_enqueue_on_commit(job_id=job.pk, priority=WAKE_PRIORITY)
    return 1


def progress_across(span: tuple[float, float], elapsed: float, expected: float) -> float:
    """Where a job waiting `elapsed` seconds for the cloud is across `span` (from, to): 1 -
    e^(-2t/expected) of the way, so 86% of it after `expected` seconds, never the end before the
    cloud is there."""
    start, end = span
    return start + (end - start) * (1 - math.exp(-2 * elapsed / max(expected, 1.0)))


def _move(job: Job) -> None:
    """The job's progress while the cloud works, as its own looks would move it (see `wait`)."""
    watch = job.watch or {}
    span = watch.get("span") or (job.progress, job.progress)
    elapsed = (timezone.now() - (job.waiting_since or timezone.now())).total_seconds()
    value = round(progress_across((span[0], span[1]), elapsed, float(watch.get("expected") or 1.0)))
    if value < job.progress + PROGRESS_STEP:
        return
    if Job.objects.filter(pk=job.pk, state=Job.State.QUEUED, progress__lt=value).update(progress=value):
        job_changed_publish(tenancy_id=job.tenancy_id, job_id=job.pk)
