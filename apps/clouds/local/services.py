"""Writes operators, tests and demos make to the local cloud itself (not
through a tenancy's driver): faults, quotas, and moving its clock on. `cloud` is the
local cloud's row (a `Cloud`)."""

from datetime import timedelta

from django.db import transaction
from django.db.models import F, Model

from ..base import CloudDriver
from ..errors import BadInput
from ..models import LocalCluster, LocalFault, LocalLease, LocalMachine, LocalQuota, operation_names

OPERATION_NAMES = operation_names(CloudDriver)


def local_fault_inject(
    *,
    cloud: Model,
    operation: str,
    kind: str,
    message: str = "",
    times: int | None = None,
    project_id: str = "",
) -> LocalFault:
    """Make the next `times` calls (None: all, until cleared) of `operation` fail as `kind`."""
    if operation != "*" and operation not in OPERATION_NAMES:
        raise BadInput(f"There is no driver operation {operation!r}.", fields={"operation": ["Unknown operation."]})
    if kind not in LocalFault.Kind.values:
        raise BadInput(f"There is no fault kind {kind!r}.", fields={"kind": [", ".join(LocalFault.Kind.values)]})
    if times is not None and times < 1:
        raise BadInput("A fault must happen at least once.", fields={"times": ["At least 1."]})
    return LocalFault.objects.create(
        cloud_id=cloud.pk, operation=operation, kind=kind, message=message, remaining=times, project_id=project_id
    )


def local_faults_clear(*, cloud: Model) -> int:
    deleted, _ = LocalFault.objects.filter(cloud_id=cloud.pk).delete()
    return deleted


def local_quota_set(*, cloud: Model, project_id: str, **limits: int) -> LocalQuota:
    """Set some of a project's limits (machines, cpus, ram_mb, external_ips, volumes, volume_gb, firewalls)."""
    unknown = set(limits) - {"machines", "cpus", "ram_mb", "external_ips", "volumes", "volume_gb", "firewalls"}
    if unknown:
        raise BadInput(f"Unknown quota {', '.join(sorted(unknown))}.")
    quota, _ = LocalQuota.objects.update_or_create(cloud_id=cloud.pk, project_id=project_id, defaults=limits)
    return quota


@transaction.atomic
def local_clock_advance(*, cloud: Model, seconds: float) -> None:
    """Move the simulated cloud `seconds` into the future: builds and actions due
    by then settle, and leases move along their windows, on the next read."""
    delta = timedelta(seconds=seconds)
    LocalMachine.objects.filter(cloud_id=cloud.pk, settles_at__isnull=False).update(settles_at=F("settles_at") - delta)
    LocalCluster.objects.filter(cloud_id=cloud.pk, settles_at__isnull=False).update(settles_at=F("settles_at") - delta)
    LocalLease.objects.filter(cloud_id=cloud.pk).update(start=F("start") - delta, end=F("end") - delta)
