"""A tenancy's quotas, from Atrium's own data: the cloud's limits as last read, and use
counted from Atrium's rows as they are now. No cloud call.

The cloud counts only what it has made. A request Atrium has recorded whose job has not
yet made it (a machine being created, a volume being made) takes quota too, or two quick
requests could both squeeze under a limit. And between two reads of the cloud, Atrium's
own rows say what changed: a machine made or deleted through Atrium is a row made or
dropped at once. So each read of the cloud (`quotas_snapshot`, by the catalogue refresh:
the sync, or a page's first need) keeps, per resource, the limit, the cloud's use and
what Atrium's rows on the cloud took of it then; a quota now is

    used = cloud's use then - Atrium's rows' use then + Atrium's rows' use now

(use made outside Atrium since the last read shows at the next one). Each app that has
such rows says what they take with a function registered here:

    @register_use
    def volumes_use(tenancy: Tenancy) -> RowsUse:
        return RowsUse(made={"volumes": 2, "volume_gb": 40}, pending={"volumes": 1})

`made`: rows the cloud has (they have its id); `pending`: requests on their way. Keys are
a `dto.Quota.resource`. (apps/machines/quotas.py is one.) This module imports no app that
registers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from apps.accounts.models import User
from apps.clouds import dto
from apps.clouds.errors import QuotaExceeded
from apps.tenancies.models import Tenancy


class RowsUse(NamedTuple):
    """What an app's rows take of a tenancy's quotas: those the cloud has made, and those on their way."""

    made: Mapping[str, int]
    pending: Mapping[str, int]


UseOfRows = Callable[[Tenancy], RowsUse]

#: The registered functions, by dotted name (registering one again replaces it).
_USE: dict[str, UseOfRows] = {}


def register_use(fn: UseOfRows) -> UseOfRows:
    """Count what `fn(tenancy)` says (a decorator; call it at import time)."""
    _USE[f"{fn.__module__}.{fn.__qualname__}"] = fn
    return fn


def rows_use(tenancy: Tenancy) -> RowsUse:
    """What Atrium's rows take now, summed over every app."""
    made: dict[str, int] = {}
    pending: dict[str, int] = {}
    for fn in _USE.values():
        use = fn(tenancy)
        for total, part in ((made, use.made), (pending, use.pending)):
            for resource, amount in part.items():
                total[resource] = total.get(resource, 0) + amount
    return RowsUse(made=made, pending=pending)


def pending_use(tenancy: Tenancy) -> dict[str, int]:
    """What requests recorded but not yet on the cloud will take, summed over every app."""
    return dict(rows_use(tenancy).pending)


def quotas_snapshot(tenancy: Tenancy, quotas: list[dto.Quota]) -> list[dict[str, Any]]:
    """The cloud's quotas just read, kept with what Atrium's rows on the cloud take now (the catalogue stores it)."""
    made = rows_use(tenancy).made
    return [
        {
            "resource": q.resource,
            "label": q.label,
            "limit": q.limit,
            "used": q.used,
            "units": q.units,
            "atrium": made.get(q.resource, 0),
        }
        for q in quotas
    ]


def quotas_current(*, tenancy: Tenancy, user: User | None = None) -> list[dto.Quota]:
    """The tenancy's quotas: limits as last read, use moved on by Atrium's rows since (see above).
    Reads the cloud only for a tenancy it has never read (`catalogue_cached`)."""
    from .selectors import catalogue_cached

    snapshot = catalogue_cached(tenancy=tenancy, user=user).quotas or []
    now = rows_use(tenancy)
    quotas = []
    for q in snapshot:
        resource = q["resource"]
        outside = max(q["used"] - q["atrium"], 0)  # what Atrium's rows did not explain then
        used = outside + now.made.get(resource, 0) + now.pending.get(resource, 0)
        quotas.append(dto.Quota(resource=resource, label=q["label"], limit=q["limit"], used=used, units=q["units"]))
    return quotas


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
