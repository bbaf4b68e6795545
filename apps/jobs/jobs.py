"""Job kinds of the jobs app itself: the tenancy sync."""

from typing import Any

from apps.tenancies.models import Tenancy

from .context import JobContext
from .registry import job_kind
from .sync import tenancy_sync_hooks


@job_kind("tenancy.sync", label="Sync tenancy", max_attempts=3, resumable=True)
def tenancy_sync(ctx: JobContext) -> dict[str, Any]:
    """Refresh the tenancy's observed state: every registered hook in turn."""
    tenancy = ctx.target()
    assert isinstance(tenancy, Tenancy)  # noqa: S101 - the sync's target is its tenancy
    hooks = tenancy_sync_hooks()
    ctx.plan([hook.label for hook in hooks] or ["Check the tenancy"])
    if not hooks:
        with ctx.stage("Check the tenancy"):
            ctx.log(f"{tenancy.name} on {tenancy.cloud.name}: nothing to refresh yet.")
        return {"hooks": []}
    done = []
    for index, hook in enumerate(hooks):
        with ctx.stage(hook.label):
            hook.func(ctx, tenancy)
        done.append(hook.label)
        ctx.progress(100 * (index + 1) / len(hooks))
    return {"hooks": done}
