"""The per-tenancy sync: hooks each app registers to refresh what it observes.

    from apps.jobs.sync import register_tenancy_sync

    @register_tenancy_sync("Machines")
    def machines_sync(ctx: JobContext, tenancy: Tenancy) -> None:
        driver = driver_for_tenancy(tenancy, user=ctx.job.requested_by)
        ...  # read the cloud through the driver, update and adopt rows

Pass `user=ctx.job.requested_by`: clouds with per-user federation act only as
the person who asked (the periodic sync, asked by no one, skips them).

The "tenancy.sync" job kind (apps/jobs/jobs.py) runs every hook as a stage.
Workers start it every ATRIUM_SYNC_INTERVAL seconds per tenancy
(`services.tenancy_syncs_start_due`); users start it with "Refresh now".
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apps.tenancies.models import Tenancy

    from .context import JobContext

SyncHook = Callable[["JobContext", "Tenancy"], object]


@dataclass(frozen=True)
class TenancySyncHook:
    label: str
    func: SyncHook


_HOOKS: dict[str, TenancySyncHook] = {}


def register_tenancy_sync(label: str) -> Callable[[SyncHook], SyncHook]:
    def register(func: SyncHook) -> SyncHook:
        _HOOKS[label] = TenancySyncHook(label=label, func=func)
        return func

    return register


def unregister_tenancy_sync(label: str) -> None:
    _HOOKS.pop(label, None)


def tenancy_sync_hooks() -> list[TenancySyncHook]:
    return list(_HOOKS.values())
