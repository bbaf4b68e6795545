"""Writes operators, tests and demos make to the local cloud itself (not
through a tenancy's driver): faults, quotas, and moving its clock on."""

from datetime import timedelta

from django.db import transaction
from django.db.models import F

from apps.tenancies.models import Cloud

from ..base import CloudDriver
from ..errors import BadInput
from ..models import LocalCluster, LocalFault, LocalLease, LocalMachine, LocalQuota, operation_names

OPERATION_NAMES = operation_names(CloudDriver)


def local_fault_inject(
    *,
    cloud: Cloud,
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
        cloud=cloud, operation=operation, kind=kind, message=message, remaining=times, project_id=project_id
    )


def local_faults_clear(*, cloud: Cloud) -> int:
    deleted, _ = LocalFault.objects.filter(cloud=cloud).delete()
    return deleted


def local_quota_set(*, cloud: Cloud, project_id: str, **limits: int) -> LocalQuota:
    """Set some of a project's limits (machines, cpus, ram_mb, external_ips, volumes, volume_gb)."""
    unknown = set(limits) - {"machines", "cpus", "ram_mb", "external_ips", "volumes", "volume_gb"}
    if unknown:
        raise BadInput(f"Unknown quota {', '.join(sorted(unknown))}.")
    quota, _ = LocalQuota.objects.update_or_create(cloud=cloud, project_id=project_id, defaults=limits)
    return quota


@transaction.atomic
def local_clock_advance(*, cloud: Cloud, seconds: float) -> None:
    """Move the simulated cloud `seconds` into the future: builds and actions due
    by then settle, and leases move along their windows, on the next read."""
    delta = timedelta(seconds=seconds)
    LocalMachine.objects.filter(cloud=cloud, settles_at__isnull=False).update(settles_at=F("settles_at") - delta)
    LocalCluster.objects.filter(cloud=cloud, settles_at__isnull=False).update(settles_at=F("settles_at") - delta)
    LocalLease.objects.filter(cloud=cloud).update(start=F("start") - delta, end=F("end") - delta)
