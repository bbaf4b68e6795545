"""A tenancy's quotas: the cloud's figures, with what Atrium has on its way counted as used.

The cloud counts only what it has made. A request Atrium has recorded whose job has
not yet made it (a machine being created, a volume being made) takes quota too, or two
quick requests could both squeeze under a limit. Each app that makes such rows says what
they will take with a function registered here:

    @register_pending
    def pending_use(tenancy: Tenancy) -> dict[str, int]:
        return {"volumes": 2, "volume_gb": 40}   # keys: a `dto.Quota.resource`

(apps/machines/quotas.py is one.) This module imports no app that registers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from apps.accounts.models import User
from apps.clouds import dto
from apps.clouds.errors import QuotaExceeded
from apps.clouds.registry import driver_for_tenancy
from apps.tenancies.models import Tenancy

PendingUse = Callable[[Tenancy], Mapping[str, int]]

#: The registered functions, by dotted name (registering one again replaces it).
_PENDING: dict[str, PendingUse] = {}


def register_pending(fn: PendingUse) -> PendingUse:
    """Count what `fn(tenancy)` says as used (a decorator; call it at import time)."""
    _PENDING[f"{fn.__module__}.{fn.__qualname__}"] = fn
    return fn


def pending_use(tenancy: Tenancy) -> dict[str, int]:
    """What requests recorded but not yet on the cloud will take, summed over every app."""
    total: dict[str, int] = {}
    for fn in _PENDING.values():
        for resource, amount in fn(tenancy).items():
            total[resource] = total.get(resource, 0) + amount
    return total


def quotas_current(*, tenancy: Tenancy, user: User | None = None) -> list[dto.Quota]:
    """The cloud's quotas with what Atrium has on its way counted as used."""
    pending = pending_use(tenancy)
    return [
        dto.Quota(
            resource=q.resource, label=q.label, limit=q.limit, used=q.used + pending.get(q.resource, 0), units=q.units
        )
        for q in driver_for_tenancy(tenancy, user=user).quotas()
    ]


def quota_check(*, tenancy: Tenancy, wanted: dict[str, int], user: User | None = None) -> None:
    """QuotaExceeded (409) naming each resource `wanted` would take over its limit."""
    over = []
    for quota in quotas_current(tenancy=tenancy, user=user):
        amount = wanted.get(quota.resource, 0)
        if amount and quota.limit is not None and quota.used + amount > quota.limit:
            units = f" {quota.units}" if quota.units else ""
            over.append(
                f"{quota.label}: this needs {amount}{units}, {quota.used}{units} of {quota.limit}{units} are in use"
            )
    if over:
        raise QuotaExceeded("This would go over the tenancy's quota. " + "; ".join(over) + ".")
