"""Reads of jobs, always scoped to the tenancies the user is a member of.

Another tenancy's job does not exist for the user (NotFound), in the UI, the
API and the websocket alike. Operators read everything through
`job_list_for_operators` (staff pages and the admin).
"""

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet

from apps.accounts.models import User
from apps.core.errors import NotFound
from apps.tenancies.models import Tenancy
from apps.tenancies.selectors import tenancy_get_for_user, tenancy_list_for_user

from .models import Job, JobLogLine


def _jobs() -> QuerySet[Job]:
    return Job.objects.select_related("tenancy", "requested_by", "target_type")


def job_list_for_tenancy(*, user: User | AnonymousUser, tenancy_id: int) -> tuple[Tenancy, QuerySet[Job]]:
    tenancy = tenancy_get_for_user(user=user, tenancy_id=tenancy_id)
    return tenancy, _jobs().filter(tenancy=tenancy)


def job_get_for_user(*, user: User | AnonymousUser, job_id: int, tenancy_id: int | None = None) -> Job:
    """A job of one of the user's tenancies (and of `tenancy_id`, when given)."""
    jobs = _jobs().filter(tenancy__in=tenancy_list_for_user(user=user).values("pk"))
    if tenancy_id is not None:
        jobs = jobs.filter(tenancy_id=tenancy_id)
    try:
        return jobs.get(pk=job_id)
    except Job.DoesNotExist:
        raise NotFound("No such job.") from None


def job_log_lines(*, job: Job, after_id: int = 0, limit: int | None = None) -> list[JobLogLine]:
    lines = job.log_lines.filter(id__gt=after_id).order_by("id")
    if limit is not None:
        # The last `limit` lines, oldest first.
        return list(reversed(lines.order_by("-id")[:limit]))
    return list(lines)


def job_list_for_operators() -> QuerySet[Job]:
    """Every tenancy's running and failed jobs (for staff only: check before)."""
    return _jobs().filter(Q(state=Job.State.RUNNING) | Q(state=Job.State.FAILED) | Q(state=Job.State.QUEUED))
