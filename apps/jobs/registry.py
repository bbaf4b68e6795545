"""Job kinds: what a job of a given `kind` runs.

An app declares its kinds in its `jobs.py` (imported at start-up by
`JobsConfig.ready`)::

    from apps.jobs.registry import job_kind

    @job_kind("machines.create", label="Create machine", max_attempts=3)
    def machine_create_job(ctx: JobContext) -> dict[str, str]:
        machine = ctx.target()
        ctx.plan(["Create server", "Wait until active"])
        with ctx.stage("Create server"):
            ...

The function loads its object (`ctx.target()`), calls services and reports
through the context (stages, progress, log lines); what it returns is stored
as the job's result. It changes the cloud only inside stages. A kind whose
target has state of its own (a row's task, a row only recorded until the cloud
makes it) passes `settle=`: what leaves the target usable however the job ends
without succeeding, even when it never ran. See README "Jobs".
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import InterfaceError, OperationalError

from apps.core.errors import ApplicationError

if TYPE_CHECKING:
    from django.db.models import Model

    from .context import JobContext
    from .models import Job

JobFunction = Callable[["JobContext"], Any]
#: What leaves a job's target usable when the job ends without succeeding: called by
#: `services.job_finish` (cancelled while queued, failed, cancelled while running, its
#: worker died) with the job, its target (None if gone) and whether it ever ran a stage
#: (kinds change the cloud only inside stages, so False means it never reached the cloud).
#: It may return the name of a kind to start on the same target next (to follow it until
#: the cloud has settled), or None.
SettleHook = Callable[["Job", "Model | None", bool], "str | None"]


@dataclass(frozen=True)
class JobKind:
    name: str
    func: JobFunction
    label: str
    # Attempts in all; only errors whose class says `retryable = True` are retried.
    max_attempts: int = 3
    # Seconds before the first retry; doubled for each further one.
    retry_backoff: float = 5.0
    # Safe to run again from the start after its worker died mid-way.
    resumable: bool = False
    # What to do to the target when the job ends without succeeding (see SettleHook).
    settle: SettleHook | None = None


_KINDS: dict[str, JobKind] = {}


def job_kind(
    name: str,
    *,
    label: str = "",
    max_attempts: int = 3,
    retry_backoff: float = 5.0,
    resumable: bool = False,
    settle: SettleHook | None = None,
) -> Callable[[JobFunction], JobFunction]:
    def register(func: JobFunction) -> JobFunction:
        _KINDS[name] = JobKind(
            name=name,
            func=func,
            label=label or name,
            max_attempts=max_attempts,
            retry_backoff=retry_backoff,
            resumable=resumable,
            settle=settle,
        )
        return func

    return register


def kind_get(name: str) -> JobKind:
    try:
        return _KINDS[name]
    except KeyError:
        raise ApplicationError(f"There is no job kind {name!r}.", fields={"kind": ["Unknown job kind."]}) from None


def kind_names() -> list[str]:
    return sorted(_KINDS)


def kind_label(name: str) -> str:
    kind = _KINDS.get(name)
    return kind.label if kind else name


#: The database went away under a job (restarted, failed over, unreachable): like the cloud's
#: Communication errors, trying again later may help.
DATABASE_GONE = (OperationalError, InterfaceError)


def is_retryable(exc: BaseException) -> bool:
    """Errors say themselves whether trying again may help (`retryable = True`
    on the class: the cloud drivers' Communication and Timeout errors); so does
    losing the database."""
    return bool(getattr(type(exc), "retryable", False)) or isinstance(exc, DATABASE_GONE)
