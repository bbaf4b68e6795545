"""What job code of every resource needs: its row, the task cleared at the end, waiting on the
cloud, what happens to the row when a job ends without succeeding (`settle_*`, the `settle=`
of `apps.jobs.registry.job_kind`), and one `reconcile` for the sync hooks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.utils import timezone

from apps.clouds.base import CloudDriver
from apps.clouds.errors import NotFound, Timeout
from apps.clouds.registry import driver_for_tenancy
from apps.jobs.context import JobContext, JobWaits
from apps.jobs.models import Job, JobLock
from apps.jobs.services import JOB_NOT_WAITING
from apps.jobs.watch import progress_across, watched
from apps.tenancies.models import Tenancy

from .models import CloudResource
from .services import changed, row_delete

R = TypeVar("R", bound=CloudResource)
M = TypeVar("M", bound=Model)
T = TypeVar("T")


def job_target(ctx: JobContext, model: type[M]) -> M:
    """The job's row (each kind targets one model)."""
    obj = ctx.target()
    assert isinstance(obj, model)  # noqa: S101 - each kind targets one model
    return obj


def job_row(ctx: JobContext, model: type[R]) -> tuple[R, CloudDriver]:
    """The job's row, and its tenancy's driver acting as the person who asked."""
    row = job_target(ctx, model)
    return row, driver_for_tenancy(row.tenancy, user=ctx.job.requested_by)


def cloud_delete(ctx: JobContext, call: Callable[[], Any], already: str) -> None:
    """Delete something on the cloud; one already gone is logged (`already`), not an error."""
    try:
        call()
    except NotFound:
        ctx.log(already)


@contextmanager
def clearing_task(obj: CloudResource) -> Iterator[None]:
    """The row's task ends with the job, however it ends (a deleted row has nothing to clear); a
    job that waits for the cloud has not ended: the row keeps its task until it comes back."""
    try:
        yield
    except JobWaits:
        raise
    except BaseException:
        _clear_task(obj)
        raise
    else:
        _clear_task(obj)


def _clear_task(obj: CloudResource) -> None:
    if type(obj)._default_manager.filter(pk=obj.pk).update(task="", updated_at=timezone.now()):
        changed(obj)


def wait(
    ctx: JobContext,
    what: str,
    poll: Callable[[], T],
    done: Callable[[T], bool],
    timeout: float | None = None,
    *,
    look_now: bool = True,
    every: float | None = None,
    expected: float = 20.0,
    progress: tuple[float, float] | None = None,
    watch: tuple[str, str] | None = None,
    seen: T | None = None,
) -> T:
    """Wait for the cloud until `done(poll())`, holding no worker meanwhile: each run of the job
    looks once (`poll`) and, if the cloud is not there yet, raises JobWaits, so the runner queues
    the job again for its next look and the kind, run again, comes back here (it skips the stages
    that succeeded: `ctx.done`). The first look is at once (`look_now`; False when the call that
    started the change has just answered) or ATRIUM_WAIT_FIRST_LOOK seconds later; each next one
    waits half the time waited so far, at least that and at most `every` seconds
    (ATRIUM_MACHINE_POLL_INTERVAL by default). Timeout (retryable) `timeout` seconds after the wait
    began (ATRIUM_MACHINE_TIMEOUT by default), however many looks. Meanwhile the job's progress
    moves across `progress` (from, to; by default the current stage's share of the job) as
    `expected` seconds pass. `watch` (a family declared with `apps.jobs.watch.watch_family`, and
    the thing's cloud id): where workers run the job, the tenancy's watcher follows the thing
    between looks, and the job looks again as soon as it changes (see apps.jobs.watch); `seen`:
    what the call that started the change answered, for the watcher to compare with when the
    wait does not look first."""
    timeout = timeout if timeout is not None else settings.ATRIUM_MACHINE_TIMEOUT
    job, now = ctx.job, timezone.now()
    resumed = job.waiting_for == what[:200] and job.waiting_since is not None
    # The job waits for something later in it (this wait ended in an earlier run): one look.
    passing = bool(job.waiting_for) and not resumed
    since = job.waiting_since if resumed and job.waiting_since else now
    looked = resumed or passing or look_now
    if looked:
        seen = poll()
        if done(seen):
            if not passing:
                _waited(ctx)
            return seen
    elapsed = (timezone.now() - since).total_seconds()
    if elapsed > timeout:
        _waited(ctx)
        raise Timeout(f"{what} took longer than {round(timeout)} seconds.")
    if not resumed:
        _wait_begins(ctx, what, since)
    first = settings.ATRIUM_WAIT_FIRST_LOOK
    every = every if every is not None else settings.ATRIUM_MACHINE_POLL_INTERVAL
    span = progress or _stage_span(ctx)
    # Where the job is while the cloud works (`progress_across`), never back from what it showed;
    # the runner records it with the wait, and the watcher moves it on between looks.
    moved = max(float(ctx.job.progress), progress_across(span, elapsed, expected))
    known = looked or seen is not None
    followed = {**watched(*watch, seen), "span": span, "expected": expected} if watch and known else None
    raise JobWaits(what, since, min(every, max(first, elapsed / 2)), progress=moved, watch=followed)


def _wait_begins(ctx: JobContext, what: str, since: datetime) -> None:
    """Record the wait: the job's deadline counts from `since`, whichever run looks."""
    ctx.job.waiting_for, ctx.job.waiting_since = what[:200], since
    Job.objects.filter(pk=ctx.job.pk).update(waiting_for=ctx.job.waiting_for, waiting_since=since)
    ctx.log(f"Waiting for the cloud: {what}.")


def _stage_span(ctx: JobContext) -> tuple[float, float]:
    """The current stage's share of the job (from, to), in percent."""
    stage, count = ctx.current_stage, len(ctx.stages)
    if stage is None or not count:
        return (ctx.job.progress, ctx.job.progress)
    return (100 * stage.position / count, 100 * (stage.position + 1) / count)


def _waited(ctx: JobContext) -> None:
    """The wait is over (the cloud got there, or it took too long): the job no longer waits."""
    if ctx.job.waiting_for or ctx.job.next_look_at:
        ctx.job.waiting_for, ctx.job.waiting_since, ctx.job.next_look_at = "", None, None
        Job.objects.filter(pk=ctx.job.pk).update(**JOB_NOT_WAITING)


# --- when a job ends without succeeding -------------------------------------------------------
# (apps.jobs.services.job_finish calls a kind's `settle=` however the job ended: cancelled while
# queued, failed, cancelled while running, its worker died.)

#: The kind that follows a row of each model until the cloud has settled it (see `settle_change`).
FOLLOW_UP: dict[type[Model], str] = {}


def follow_up(model: type[CloudResource], kind: str) -> None:
    """Declare the job kind that watches a `model` row left changing by a job that ended."""
    FOLLOW_UP[model] = kind


def settle_change(job: Job, obj: Model | None, ran: bool) -> str | None:
    """A change to a row (an action, attach, detach, delete…) that did not succeed: the row's
    task goes, so its actions come back. If the job had reached the cloud and the row may not
    show where the cloud is going (its task was still set: the job's own code never finished,
    as when its worker died; or it is still `settling`), the model's follow-up job watches it."""
    if not isinstance(obj, CloudResource):
        return None
    interrupted = bool(obj.task)
    if interrupted:
        obj.task = ""
        type(obj)._default_manager.filter(pk=obj.pk).update(task="", updated_at=timezone.now())
        changed(obj)
    if ran and obj.cloud_id and (interrupted or obj.settling):
        return FOLLOW_UP.get(type(obj))
    return None


def settle_create(
    job: Job, obj: Model | None, ran: bool, *, unmade: Callable[[Job, Any], str | None] | None = None
) -> str | None:
    """A create that did not succeed. One that never reached the cloud (no stage ran) leaves no
    row: it was only recorded, and the job says why. One that reached the cloud is a change like
    any other once the cloud has given it an id. Without one, `unmade(job, row)` decides (a
    kind passes it with functools.partial); by default the row goes (the sync adopts one the
    cloud made after all)."""
    if not isinstance(obj, CloudResource):
        return None
    if obj.cloud_id:
        return settle_change(job, obj, ran)
    if not ran or unmade is None:
        row_delete(obj)
        return None
    return unmade(job, obj)


# --- the sync ---------------------------------------------------------------------------------


def busy_ids(model: type[Model]) -> set[int]:
    """Rows of `model` a job holds now: the sync leaves them to that job."""
    content_type = ContentType.objects.get_for_model(model)
    keys = JobLock.objects.filter(target_key__startswith=f"{content_type.pk}:").values_list("target_key", flat=True)
    return {int(key.split(":", 1)[1]) for key in keys}


def orphans(rows: Iterable[R]) -> list[R]:
    """Of `rows` not on the cloud, those no job holds now (read now, not when the sync started:
    a row recorded since holds its job's lock from the moment it is visible). Jobs settle their
    rows when they end (`settle_create`); these are rows left by jobs that ended before they did."""
    rows = list(rows)
    if not rows:
        return []
    content_type = ContentType.objects.get_for_model(type(rows[0]))
    held = set(
        JobLock.objects.filter(target_key__in=[f"{content_type.pk}:{r.pk}" for r in rows]).values_list(
            "target_key", flat=True
        )
    )
    return [r for r in rows if f"{content_type.pk}:{r.pk}" not in held]


#: Stands for the job, long ended, of a row the sync finds without one (see `orphans`).
ORPHANED = Job(error="its job ended before the cloud made it")


@dataclass
class Reconciled:
    """What a `reconcile` found: things on the cloud, rows adopted for them, rows dropped."""

    seen: int = 0
    adopted: int = 0
    gone: int = 0


def reconcile(
    rows: Iterable[R],
    seen: Iterable[T],
    *,
    adopt: Callable[[T], R],
    observe: Callable[[R, T], Any],
    busy: set[int] | frozenset[int] = frozenset(),
    match: Callable[[T], R | None] | None = None,
    gone: Callable[[R], Any] = row_delete,
    cloud_id: Callable[[T], str] = lambda item: item.id,  # type: ignore[attr-defined]
) -> Reconciled:
    """Bring `rows` in line with what the cloud has (`seen`). Each thing seen finds its row by
    cloud id (or, failing that, by `match`: a row whose create ended before it stored the id);
    a thing no row knows gets one from `adopt` (made outside Atrium: `external`). Each row found
    is brought up to date by `observe(row, thing)`; rows the cloud no longer has go to `gone`
    (dropped by default). Rows a job holds (`busy`) are left to that job."""
    known = {row.cloud_id: row for row in rows if row.cloud_id}
    counts = Reconciled()
    for item in seen:
        counts.seen += 1
        row = known.pop(cloud_id(item), None) or (match(item) if match else None)
        if row is None:
            row = adopt(item)
            counts.adopted += 1
        elif row.pk in busy:
            continue
        observe(row, item)
    for row in known.values():
        if row.pk not in busy:
            gone(row)
            counts.gone += 1
    return counts


def reconcile_tenancy(
    model: type[R],
    tenancy: Tenancy,
    seen: Iterable[T],
    *,
    adopt: Callable[[T], R],
    observe: Callable[[R, T], Any],
    match: Callable[[T], R | None] | None = None,
    gone: Callable[[R], Any] = row_delete,
    unmade: Callable[[R], Any] = row_delete,
) -> Reconciled:
    """A sync hook's work for one model: `reconcile` the tenancy's rows the cloud has an id for
    with `seen` (rows a job holds left to it), then hand each request the cloud never made and
    no job holds any more to `unmade` (dropped by default)."""
    counts = reconcile(
        model._default_manager.filter(tenancy=tenancy).exclude(cloud_id=""),
        seen,
        adopt=adopt,
        observe=observe,
        busy=busy_ids(model),
        match=match,
        gone=gone,
    )
    for row in orphans(model._default_manager.filter(tenancy=tenancy, cloud_id="")):
        unmade(row)
    return counts
