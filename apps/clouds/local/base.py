"""What every family of the local driver shares: the simulated clock (statuses move
on by time, settled on every read), injected faults, and the project's quota."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Concatenate, ParamSpec, TypeVar

from django.db.models import F, Model, QuerySet
from django.utils import timezone

from ..base import CloudDriver
from ..errors import NotFound, QuotaExceeded
from ..models import LocalCluster, LocalExternalIp, LocalMachine, LocalNetwork, LocalQuota, LocalVolume
from ..target import Target
from .faults import fault_raise

P = ParamSpec("P")
R = TypeVar("R")
D = TypeVar("D", bound="LocalBase")
M = TypeVar("M", bound=Model)

PROJECT_CIDR = "192.168.10.0/24"
DEFAULT_DELAYS = {"build_seconds": 8.0, "action_seconds": 3.0, "cluster_seconds": 45.0}
QUOTA_LABELS = {
    "machines": "machines",
    "cpus": "CPUs",
    "ram_mb": "RAM",
    "external_ips": "external IPs",
    "volumes": "volumes",
    "volume_gb": "volume storage",
    "firewalls": "machine firewalls",
}


def units(resource: str) -> str:
    return {"ram_mb": " MB", "volume_gb": " GB"}.get(resource, "")


def operation(func: Callable[Concatenate[D, P], R]) -> Callable[Concatenate[D, P], R]:
    """Every public operation: injected faults first, then the simulated transitions. A
    create's `_x_create` (the interface's `x_create` hands it the checked request) answers
    to the operation's public name."""
    name = func.__name__.removeprefix("_")

    @functools.wraps(func)
    def wrapper(self: D, /, *args: P.args, **kwargs: P.kwargs) -> R:
        fault_raise(cloud_id=self.cloud_id, project_id=self.project_id, operation=name)
        self._settle()
        return func(self, *args, **kwargs)

    return wrapper


class LocalBase(CloudDriver):
    """The plumbing of the local cloud's families: its rows are the cloud's (`cloud_id`)
    and the project's (`project_id`)."""

    def __init__(self, *, target: Target):
        super().__init__(target=target)
        self.cloud_id = target.cloud_id

    def _delay(self, key: str) -> timedelta:
        value = self.target.options.get(key, DEFAULT_DELAYS[key])
        try:
            return timedelta(seconds=max(float(value), 0.0))
        except (TypeError, ValueError):
            return timedelta(seconds=DEFAULT_DELAYS[key])

    def _settle(self) -> None:
        """Apply every transition whose time has come (any process may do it; it is one UPDATE)."""
        now = timezone.now()
        settle = {"status": F("settles_to"), "settles_at": None, "settles_to": ""}
        # Look before writing: most reads have nothing due, and a read should not take SQLite's write lock.
        machines = LocalMachine.objects.filter(cloud_id=self.cloud_id, settles_at__lte=now)
        if machines.exists():
            machines.update(**settle)
        clusters = LocalCluster.objects.filter(cloud_id=self.cloud_id, settles_at__lte=now)
        if clusters.exists():
            clusters.update(**settle)
        # Blazar deletes the machines of a lease when it ends.
        ended = LocalMachine.objects.filter(cloud_id=self.cloud_id, lease__end__lte=now)
        if ended.exists():
            ended.delete()

    def _machines(self) -> QuerySet[LocalMachine]:
        return self._project_rows(LocalMachine).select_related("image", "size", "lease", "host")

    def _machine(self, machine_id: str, *, lock: bool = False) -> LocalMachine:
        return self._project_row(self._machines(), machine_id, "machine", lock=lock)

    def _project_rows(self, model: type[M]) -> QuerySet[M]:
        """The project's rows of `model` on this cloud."""
        return model._default_manager.filter(cloud_id=self.cloud_id, project_id=self.project_id)

    def _project_row(self, queryset: QuerySet[M], uid: str, what: str, *, lock: bool = False) -> M:
        """The row `uid` of the project's `queryset` (locked for update if asked), or NotFound naming `what`."""
        if lock:
            queryset = queryset.select_for_update(of=("self",))
        row = queryset.filter(uid=uid).first()
        if row is None:
            raise NotFound(f"There is no {what} {uid} in this project.")
        return row

    def _quota_row(self, *, lock: bool) -> LocalQuota:
        LocalQuota.objects.get_or_create(cloud_id=self.cloud_id, project_id=self.project_id)
        queryset = self._project_rows(LocalQuota)
        return (queryset.select_for_update() if lock else queryset).get()

    def _usage(self) -> dict[str, int]:
        machines = list(self._machines())
        clusters = list(self._project_rows(LocalCluster).select_related("master_size", "worker_size"))
        volumes = list(self._project_rows(LocalVolume))
        return {
            "machines": len(machines) + sum(c.master_count + c.worker_count for c in clusters),
            "cpus": sum(m.size.cpus for m in machines)
            + sum(c.master_count * c.master_size.cpus + c.worker_count * c.worker_size.cpus for c in clusters),
            "ram_mb": sum(m.size.ram_mb for m in machines)
            + sum(c.master_count * c.master_size.ram_mb + c.worker_count * c.worker_size.ram_mb for c in clusters),
            "external_ips": self._project_rows(LocalExternalIp).count(),
            "volumes": len(volumes),
            "volume_gb": sum(v.size_gb for v in volumes),
            # Like Neutron's security groups: the shared firewall (always there, as Neutron's
            # `default` group is) and each machine's own.
            "firewalls": 1 + sum(not m.firewall_shared for m in machines),
        }

    def _check_quota(self, **wanted: int) -> None:
        """Raise QuotaExceeded naming the first resource `wanted` would take over its limit.
        Holds the project's quota row locked until the caller's transaction ends."""
        limits = self._quota_row(lock=True)
        used = self._usage()
        for resource, amount in wanted.items():
            limit = getattr(limits, resource)
            if amount and used[resource] + amount > limit:
                label = QUOTA_LABELS[resource]
                raise QuotaExceeded(
                    f"Quota exceeded for {label}: this needs {amount}{units(resource)}, "
                    f"but the project already uses {used[resource]} of {limit}{units(resource)}."
                )

    def _tenant_network(self) -> LocalNetwork:
        network = LocalNetwork.objects.filter(
            cloud_id=self.cloud_id, project_id=self.project_id, external=False
        ).first()
        if network is None:
            # Racing first boots: the unique constraint lets one create it, the others get it.
            network, _ = LocalNetwork.objects.get_or_create(
                cloud_id=self.cloud_id,
                project_id=self.project_id,
                external=False,
                defaults={"cidr": PROJECT_CIDR, "name": f"{self.project_id}-network"},
            )
        return network
