"""The lifecycle of a resource row, shared by services and jobs.

A create records the row with its task and starts the job that makes it (`row_create`); an
action locks the row, refuses while it is busy, checks its state, marks the task and starts
the job (`row_act`). Both answer `Started(row, job)`. Jobs and the sync store what the cloud
says with `observe` (only what changed is written, and only then are pages told), drop rows
the cloud no longer has with `row_delete`, and set or clear tasks with `task_set`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, Generic, NamedTuple, TypeVar

from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from apps.core.errors import Conflict
from apps.jobs.events import resource_changed_publish
from apps.jobs.live import live_parents
from apps.jobs.models import Job
from apps.jobs.services import job_create

from .models import CloudResource

R = TypeVar("R", bound=CloudResource)


class Started(NamedTuple, Generic[R]):
    """A row and the job that works on it: what every create and action answers."""

    row: R
    job: Job


def changed(obj: CloudResource, *, created: bool = False, pk: int | None = None) -> None:
    """Tell the tenancy's open pages that this row changed (after the transaction commits).
    For a row just deleted (Django has cleared its pk) pass the `pk` it had. The rows whose
    pages show this one (its live declaration's `parents`: a volume's machine, and the one it
    just left) re-render too (`page_changed`)."""
    tenancy_id, name, object_id = obj.tenancy_id, obj._meta.model_name or "", pk if pk is not None else obj.pk
    transaction.on_commit(
        partial(resource_changed_publish, tenancy_id=tenancy_id, resource=name, object_id=object_id, created=created)
    )
    for parent, _, parent_id in live_parents(obj):
        page_changed(parent, parent_id, tenancy_id=tenancy_id)


def page_changed(model: type[Model], pk: int, *, tenancy_id: int) -> None:
    """Tell the open pages of a row that something they show with it changed though the row did
    not (a volume attached to it, a job started for it): they re-render it after the transaction
    commits, and pages that poll see it changed."""
    model._default_manager.filter(pk=pk).update(updated_at=timezone.now())
    transaction.on_commit(
        partial(resource_changed_publish, tenancy_id=tenancy_id, resource=model._meta.model_name or "", object_id=pk)
    )


def task_set(obj: CloudResource, task: str) -> None:
    """Set the task (and save whatever else the caller changed on the row)."""
    obj.task = task
    obj.save()
    changed(obj)


def row_delete(obj: CloudResource) -> None:
    """Drop the row (the cloud no longer has it) and tell open pages it is gone."""
    pk = obj.pk
    obj.delete()
    changed(obj, pk=pk)


def busy_refuse(row: CloudResource, what: str | None = None) -> None:
    """Conflict (409) while a job works on the row."""
    if row.task:
        raise Conflict(f"{what or row} is {row.task}; try again when that has finished.")


def job_start(
    row: R, *, kind: str, task: str, user: Any, params: dict[str, Any] | None = None, created: bool = False
) -> Started[R]:
    """The job that changes `row` (checked and locked by the caller), and the row's task saying so."""
    job = job_create(kind=kind, tenancy=row.tenancy, target=row, requested_by=user, params=params)
    if created:
        changed(row, created=True)
    else:
        task_set(row, task)
    return Started(row, job)


def row_create(
    model: type[R],
    *,
    kind: str,
    task: str,
    user: Any,
    params: dict[str, Any] | None = None,
    **fields: Any,
) -> Started[R]:
    """Record a new row (listed at once, with its `task`) and start the job `kind` that makes it on
    the cloud. The caller has checked the request (and runs this in its transaction)."""
    row = model._default_manager.create(created_by=user, task=task, **fields)
    return job_start(row, kind=kind, task=task, user=user, params=params, created=True)


def row_act(
    row: R,
    *,
    kind: str,
    task: str,
    user: Any,
    check: Callable[[R], None] | None = None,
    params: dict[str, Any] | Callable[[R], dict[str, Any]] | None = None,
    busy: str | None = None,
) -> Started[R]:
    """Lock the row, refuse while it is busy (Conflict naming it as `busy`, else `str(row)`),
    `check` its state (raising Conflict or BadInput), mark its `task` and start the job `kind`
    with `params` (or what `params(row)` makes of the locked row: the caller's copy may be old)."""
    row = type(row)._default_manager.select_for_update().get(pk=row.pk)
    busy_refuse(row, busy)
    if check is not None:
        check(row)
    if callable(params):
        params = params(row)
    return job_start(row, kind=kind, task=task, user=user, params=params)


def observe(row: CloudResource, seen: Mapping[str, Any]) -> bool:
    """Store what the cloud says about the row (`seen`: field name to value). Open pages are told
    only when something they show changed; otherwise only `observed_at` moves (a sync of a tenancy
    where nothing happened writes one small UPDATE a row). True when something changed."""
    now = timezone.now()
    row.observed_at = now
    if all(getattr(row, name) == value for name, value in seen.items()):
        type(row)._default_manager.filter(pk=row.pk).update(observed_at=now)
        return False
    for name, value in seen.items():
        setattr(row, name, value)
    row.save(update_fields=[*seen, "observed_at", "updated_at"])
    changed(row)
    return True
