"""The local driver: a cloud simulated in the database.

Statuses move on by time, not by threads: an action sets the status it starts
in (BUILD, STOPPING...) and the one it settles to with a time; every read first
applies the transitions whose time has passed, in one UPDATE, so all web and
worker processes agree. Delays come from the cloud's `options`
(`build_seconds`, `action_seconds`, `cluster_seconds`).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import ipaddress
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Concatenate, ParamSpec, TypeVar

import yaml
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from .. import dto
from ..base import (
    FIREWALL_DEFAULT_RULES,
    Capabilities,
    CloudDriver,
    firewall_rule_clean,
    machine_name_clean,
    require_aware,
)
from ..errors import BadInput, InvalidOperation, NotFound, QuotaExceeded
from ..models import (
    LocalAllocation,
    LocalCluster,
    LocalClusterTemplate,
    LocalExternalIp,
    LocalFault,
    LocalFirewallRule,
    LocalHost,
    LocalImage,
    LocalKeyPair,
    LocalLease,
    LocalMachine,
    LocalNetwork,
    LocalQuota,
    LocalReservation,
    LocalSize,
    LocalVolume,
)
from .faults import fault_raise, fault_take

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_DELAYS = {"build_seconds": 8.0, "action_seconds": 3.0, "cluster_seconds": 45.0}
PROJECT_CIDR = "192.168.10.0/24"
NO_VALID_HOST = "No valid host was found. There are not enough hosts available."
S = dto.MachineStatus
C = dto.ClusterStatus


def operation(func: Callable[Concatenate[LocalDriver, P], R]) -> Callable[Concatenate[LocalDriver, P], R]:
    """Every public operation: injected faults first, then the simulated transitions."""

    @functools.wraps(func)
    def wrapper(self: LocalDriver, /, *args: P.args, **kwargs: P.kwargs) -> R:
        fault_raise(cloud=self.cloud, project_id=self.project_id, operation=func.__name__)
        self._settle()
        return func(self, *args, **kwargs)

    return wrapper


class LocalDriver(CloudDriver):
    name = "local"

    # Plumbing ---------------------------------------------------------------------------

    def _delay(self, key: str) -> timedelta:
        value = self.cloud.options.get(key, DEFAULT_DELAYS[key])
        try:
            return timedelta(seconds=max(float(value), 0.0))
        except (TypeError, ValueError):
            return timedelta(seconds=DEFAULT_DELAYS[key])

    def _settle(self) -> None:
        """Apply every transition whose time has come (any process may do it; it is one UPDATE)."""
        now = timezone.now()
        settle = {"status": F("settles_to"), "settles_at": None, "settles_to": ""}
        # Look before writing: most reads have nothing due, and a read should not take SQLite's write lock.
        machines = LocalMachine.objects.filter(cloud=self.cloud, settles_at__lte=now)
        if machines.exists():
            machines.update(**settle)
        clusters = LocalCluster.objects.filter(cloud=self.cloud, settles_at__lte=now)
        if clusters.exists():
            clusters.update(**settle)
        # Blazar deletes the machines of a lease when it ends.
        ended = LocalMachine.objects.filter(cloud=self.cloud, lease__end__lte=now)
        if ended.exists():
            ended.delete()

    def _machines(self) -> QuerySet[LocalMachine]:
        return LocalMachine.objects.filter(cloud=self.cloud, project_id=self.project_id).select_related(
            "image", "size", "lease", "host"
        )

    def _machine(self, machine_id: str, *, lock: bool = False) -> LocalMachine:
        queryset = self._machines()
        if lock:
            queryset = queryset.select_for_update(of=("self",))
        machine = queryset.filter(uid=machine_id).first()
        if machine is None:
            raise NotFound(f"There is no machine {machine_id} in this project.")
        return machine

    def _quota_row(self, *, lock: bool) -> LocalQuota:
        LocalQuota.objects.get_or_create(cloud=self.cloud, project_id=self.project_id)
        queryset = LocalQuota.objects.filter(cloud=self.cloud, project_id=self.project_id)
        return (queryset.select_for_update() if lock else queryset).get()

    def _usage(self) -> dict[str, int]:
        machines = list(self._machines())
        clusters = list(
            LocalCluster.objects.filter(cloud=self.cloud, project_id=self.project_id).select_related(
                "master_size", "worker_size"
            )
        )
        volumes = list(LocalVolume.objects.filter(cloud=self.cloud, project_id=self.project_id))
        return {
            "machines": len(machines) + sum(c.master_count + c.worker_count for c in clusters),
            "cpus": sum(m.size.cpus for m in machines)
            + sum(c.master_count * c.master_size.cpus + c.worker_count * c.worker_size.cpus for c in clusters),
            "ram_mb": sum(m.size.ram_mb for m in machines)
            + sum(c.master_count * c.master_size.ram_mb + c.worker_count * c.worker_size.ram_mb for c in clusters),
            "external_ips": LocalExternalIp.objects.filter(cloud=self.cloud, project_id=self.project_id).count(),
            "volumes": len(volumes),
            "volume_gb": sum(v.size_gb for v in volumes),
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
                    f"Quota exceeded for {label}: this needs {amount}{_units(resource)}, "
                    f"but the project already uses {used[resource]} of {limit}{_units(resource)}."
                )

    # Capabilities, images, sizes, networks, quotas ---------------------------------------

    def capabilities(self) -> Capabilities:
        return Capabilities(
            external_ips=True,
            firewall=True,
            volumes=True,
            keypairs=True,
            console_log=True,
            console=None,
            kubernetes=True,
            leases=True,
            host_capacity=True,
        )

    def _images(self) -> QuerySet[LocalImage]:
        return LocalImage.objects.filter(cloud=self.cloud).filter(Q(project_id="") | Q(project_id=self.project_id))

    @operation
    def images(self) -> list[dto.Image]:
        return [_image(image) for image in self._images()]

    @operation
    def image_get(self, *, image_id: str) -> dto.Image:
        image = self._images().filter(uid=image_id).first()
        if image is None:
            raise NotFound(f"There is no image {image_id} on this cloud.")
        return _image(image)

    @operation
    def sizes(self) -> list[dto.Size]:
        return [_size(size) for size in LocalSize.objects.filter(cloud=self.cloud)]

    @operation
    def size_get(self, *, size_id: str) -> dto.Size:
        size = LocalSize.objects.filter(cloud=self.cloud, uid=size_id).first()
        if size is None:
            raise NotFound(f"There is no size {size_id} on this cloud.")
        return _size(size)

    @operation
    def networks(self) -> list[dto.Network]:
        networks = LocalNetwork.objects.filter(cloud=self.cloud).filter(
            Q(external=True) | Q(project_id=self.project_id)
        )
        return [_network(network) for network in networks]

    @operation
    def tenant_network(self) -> dto.Network:
        return _network(self._tenant_network())

    def _tenant_network(self) -> LocalNetwork:
        network = LocalNetwork.objects.filter(cloud=self.cloud, project_id=self.project_id, external=False).first()
        if network is None:
            # Racing first boots: the unique constraint lets one create it, the others get it.
            network, _ = LocalNetwork.objects.get_or_create(
                cloud=self.cloud,
                project_id=self.project_id,
                external=False,
                defaults={"cidr": PROJECT_CIDR, "name": f"{self.project_id}-network"},
            )
        return network

    @operation
    def quotas(self) -> list[dto.Quota]:
        limits = self._quota_row(lock=False)
        used = self._usage()
        return [
            dto.Quota(
                resource=resource,
                label=label,
                limit=getattr(limits, resource),
                used=used[resource],
                units=_units(resource).strip(),
            )
            for resource, label in QUOTA_LABELS.items()
        ]

    # Machines -----------------------------------------------------------------------------

    @operation
    def machines(self) -> list[dto.Machine]:
        return [_machine(m) for m in self._machines().prefetch_related("external_ips")]

    @operation
    def machine_get(self, *, machine_id: str) -> dto.Machine:
        return _machine(self._machine(machine_id))

    @operation
    def machine_create(
        self,
        *,
        name: str,
        image_id: str,
        size_id: str,
        network_id: str | None = None,
        key_name: str | None = None,
        user_data: str | None = None,
        metadata: Mapping[str, str] | None = None,
        lease_id: str | None = None,
    ) -> dto.Machine:
        name = machine_name_clean(name)
        image = self._images().filter(uid=image_id).first()
        if image is None:
            raise BadInput(f"There is no image {image_id} on this cloud.", fields={"image_id": ["Unknown image."]})
        size = LocalSize.objects.filter(cloud=self.cloud, uid=size_id).first()
        if size is None:
            raise BadInput(f"There is no size {size_id} on this cloud.", fields={"size_id": ["Unknown size."]})
        if image.min_disk_gb > size.disk_gb or image.min_ram_mb > size.ram_mb:
            raise BadInput(
                f"The image {image.name} needs at least {image.min_disk_gb} GB of disk and {image.min_ram_mb} MB "
                f"of RAM; the size {size.name} has {size.disk_gb} GB and {size.ram_mb} MB.",
                fields={"size_id": ["Too small for the image."]},
            )
        if (
            key_name
            and not LocalKeyPair.objects.filter(cloud=self.cloud, project_id=self.project_id, name=key_name).exists()
        ):
            raise BadInput(f"There is no key pair {key_name!r} in this project.", fields={"key_name": ["Unknown."]})
        if network_id:
            network = LocalNetwork.objects.filter(
                cloud=self.cloud, project_id=self.project_id, uid=network_id, external=False
            ).first()
            if network is None:
                raise BadInput(
                    f"There is no network {network_id} in this project.", fields={"network_id": ["Unknown network."]}
                )
        else:
            network = self._tenant_network()
        with transaction.atomic():
            self._check_quota(machines=1, cpus=size.cpus, ram_mb=size.ram_mb)
            lease = self._lease_for_machine(lease_id, size) if lease_id else None
            host = self._place(size, lease)
            failure = fault_take(
                cloud=self.cloud,
                project_id=self.project_id,
                operation="machine_create",
                kinds=[LocalFault.Kind.BUILD_FAILURE],
            )
            fault = ""
            if host is None:
                fault = NO_VALID_HOST
            elif failure is not None:
                fault = failure.message or "The machine failed to build (injected fault)."
            machine = LocalMachine.objects.create(
                cloud=self.cloud,
                project_id=self.project_id,
                name=name,
                image=image,
                size=size,
                network=network,
                host=None if fault else host,
                lease=lease,
                internal_ip=_next_address(network.cidr, _used_internal(network)),
                status=S.BUILD,
                settles_at=timezone.now() + self._delay("build_seconds"),
                settles_to=S.ERROR if fault else S.ACTIVE,
                fault=fault,
                key_name=key_name or "",
                user_data=user_data or "",
                metadata=dict(metadata or {}),
            )
            LocalFirewallRule.objects.bulk_create(
                LocalFirewallRule(machine=machine, protocol=p, port_min=lo, port_max=hi, remote_cidr=cidr)
                for p, lo, hi, cidr in FIREWALL_DEFAULT_RULES
            )
        return _machine(machine)

    def _place(self, size: LocalSize, lease: LocalLease | None) -> LocalHost | None:
        """The first host with room for `size` (the lease's hosts for a machine in a lease)."""
        hosts = LocalHost.objects.select_for_update().filter(cloud=self.cloud)
        if lease is None:
            hosts = hosts.filter(reservable=False)
        else:
            held = LocalAllocation.objects.filter(reservation__lease=lease).values("host_id")
            hosts = hosts.filter(pk__in=held)
        for host in hosts.order_by("name"):
            free = _host_free_now(host)
            if free.cpus >= size.cpus and free.ram_mb >= size.ram_mb and free.disk_gb >= size.disk_gb:
                return host
        return None

    def _lease_for_machine(self, lease_id: str, size: LocalSize) -> LocalLease:
        lease = LocalLease.objects.filter(cloud=self.cloud, project_id=self.project_id, uid=lease_id).first()
        if lease is None:
            raise BadInput(f"There is no lease {lease_id} in this project.", fields={"lease_id": ["Unknown lease."]})
        if _lease_status(lease) != dto.LeaseStatus.ACTIVE:
            raise InvalidOperation(f"The lease {lease.name} is not active now, so nothing can start in it.")
        reservations = list(lease.reservations.all())
        if any(r.kind == LocalReservation.Kind.HOST for r in reservations):
            return lease
        slots = sum(r.count for r in reservations if r.size_id == size.pk)
        if slots == 0:
            raise BadInput(f"The lease {lease.name} reserves no machines of size {size.name}.")
        if lease.machines.filter(size=size).count() >= slots:
            raise QuotaExceeded(f"The lease {lease.name} has no room left for another {size.name} machine.")
        return lease

    def _transition(self, machine_id: str, *, allowed: set[S], doing: S, then: S, verb: str) -> dto.Machine:
        with transaction.atomic():
            machine = self._machine(machine_id, lock=True)
            if machine.status not in allowed:
                raise InvalidOperation(
                    f"The machine {machine.name} is {machine.status}; it can only be {verb} when "
                    f"{' or '.join(sorted(allowed))}."
                )
            machine.status = doing
            machine.settles_to = then
            machine.settles_at = timezone.now() + self._delay("action_seconds")
            machine.events = [*machine.events, [timezone.now().isoformat(), verb]]
            machine.save(update_fields=["status", "settles_to", "settles_at", "events"])
        return _machine(machine)

    @operation
    def machine_start(self, *, machine_id: str) -> dto.Machine:
        return self._transition(machine_id, allowed={S.STOPPED}, doing=S.STARTING, then=S.ACTIVE, verb="started")

    @operation
    def machine_stop(self, *, machine_id: str) -> dto.Machine:
        return self._transition(machine_id, allowed={S.ACTIVE}, doing=S.STOPPING, then=S.STOPPED, verb="stopped")

    @operation
    def machine_reboot(self, *, machine_id: str, hard: bool = False) -> dto.Machine:
        allowed = {S.ACTIVE, S.STOPPED, S.ERROR} if hard else {S.ACTIVE}
        return self._transition(machine_id, allowed=allowed, doing=S.REBOOTING, then=S.ACTIVE, verb="rebooted")

    @operation
    def machine_delete(self, *, machine_id: str) -> None:
        with transaction.atomic():
            machine = self._machine(machine_id, lock=True)
            LocalVolume.objects.filter(machine=machine).update(machine=None, device="")
            machine.delete()

    @operation
    def machine_console_log(self, *, machine_id: str, lines: int | None = None) -> str:
        text = _console_log(self._machine(machine_id)).splitlines()
        if lines is not None:
            text = text[-lines:] if lines > 0 else []
        return "\n".join(text) + ("\n" if text else "")

    # A machine's own firewall -------------------------------------------------------------

    @operation
    def machine_firewall(self, *, machine_id: str) -> list[dto.FirewallRule]:
        return [_firewall_rule(rule) for rule in self._machine(machine_id).firewall_rules.all()]

    @operation
    def machine_firewalls(self, *, machine_ids: Sequence[str]) -> dict[str, list[dto.FirewallRule] | None]:
        found: dict[str, list[dto.FirewallRule]] = {
            uid: [] for uid in self._machines().filter(uid__in=machine_ids).values_list("uid", flat=True)
        }
        for rule in LocalFirewallRule.objects.filter(machine__uid__in=found).select_related("machine"):
            found[rule.machine.uid].append(_firewall_rule(rule))
        return dict(found)

    @operation
    def machine_firewall_rule_add(
        self,
        *,
        machine_id: str,
        protocol: str,
        port_min: int | None = None,
        port_max: int | None = None,
        remote_cidr: str | None = None,
    ) -> dto.FirewallRule:
        kind, port_min, port_max, cidr = firewall_rule_clean(
            protocol=protocol, port_min=port_min, port_max=port_max, remote_cidr=remote_cidr
        )
        with transaction.atomic():
            machine = self._machine(machine_id, lock=True)
            rule, made = LocalFirewallRule.objects.get_or_create(
                machine=machine, protocol=kind, port_min=port_min, port_max=port_max, remote_cidr=cidr
            )
        if not made:
            raise InvalidOperation(f"The machine {machine.name} already lets that in.")
        return _firewall_rule(rule)

    @operation
    def machine_firewall_rule_remove(self, *, machine_id: str, rule_id: str) -> None:
        deleted, _ = LocalFirewallRule.objects.filter(machine=self._machine(machine_id), uid=rule_id).delete()
        if not deleted:
            raise NotFound(f"The machine has no firewall rule {rule_id}.")

    # Key pairs ---------------------------------------------------------------------------

    @operation
    def keypairs(self) -> list[dto.KeyPair]:
        return [
            dto.KeyPair(name=k.name, fingerprint=k.fingerprint, public_key=k.public_key)
            for k in LocalKeyPair.objects.filter(cloud=self.cloud, project_id=self.project_id)
        ]

    @operation
    def keypair_import(self, *, name: str, public_key: str) -> dto.KeyPair:
        if not name or len(name) > 255:
            raise BadInput("A key pair needs a name of 1 to 255 characters.")
        fingerprint = ssh_fingerprint(public_key)
        with transaction.atomic():
            if LocalKeyPair.objects.filter(cloud=self.cloud, project_id=self.project_id, name=name).exists():
                raise InvalidOperation(f"A key pair called {name!r} already exists in this project.")
            key = LocalKeyPair.objects.create(
                cloud=self.cloud,
                project_id=self.project_id,
                name=name,
                public_key=public_key.strip(),
                fingerprint=fingerprint,
            )
        return dto.KeyPair(name=key.name, fingerprint=key.fingerprint, public_key=key.public_key)

    @operation
    def keypair_delete(self, *, name: str) -> None:
        deleted, _ = LocalKeyPair.objects.filter(cloud=self.cloud, project_id=self.project_id, name=name).delete()
        if not deleted:
            raise NotFound(f"There is no key pair {name!r} in this project.")

    # External IPs --------------------------------------------------------------------------

    def _ips(self) -> QuerySet[LocalExternalIp]:
        return LocalExternalIp.objects.filter(cloud=self.cloud, project_id=self.project_id).select_related("machine")

    def _ip(self, ip_id: str) -> LocalExternalIp:
        ip = self._ips().filter(uid=ip_id).first()
        if ip is None:
            raise NotFound(f"There is no external IP {ip_id} in this project.")
        return ip

    @operation
    def external_ips(self) -> list[dto.ExternalIp]:
        return [_external_ip(ip) for ip in self._ips()]

    @operation
    def external_ip_allocate(self) -> dto.ExternalIp:
        external = LocalNetwork.objects.filter(cloud=self.cloud, external=True).first()
        if external is None:
            raise InvalidOperation("This cloud has no external network to take addresses from.")
        with transaction.atomic():
            self._check_quota(external_ips=1)
            used = set(LocalExternalIp.objects.filter(cloud=self.cloud).values_list("address", flat=True))
            try:
                address = _next_address(external.cidr, used)
            except InvalidOperation as exc:
                raise InvalidOperation("The external network has no free addresses left.") from exc
            ip = LocalExternalIp.objects.create(cloud=self.cloud, project_id=self.project_id, address=address)
        return _external_ip(ip)

    @operation
    def external_ip_attach(self, *, ip_id: str, machine_id: str) -> dto.ExternalIp:
        with transaction.atomic():
            ip = self._ip(ip_id)
            machine = self._machine(machine_id, lock=True)
            if ip.machine_id is not None and ip.machine_id != machine.pk:
                raise InvalidOperation(f"The address {ip.address} is already attached to {ip.machine}.")
            if machine.external_ips.exclude(pk=ip.pk).exists():
                raise InvalidOperation(f"The machine {machine.name} already has an external IP.")
            if machine.status in (S.BUILD, S.ERROR) and machine.settles_to != S.ACTIVE:
                raise InvalidOperation(f"The machine {machine.name} is {machine.status}; it has no port to attach to.")
            ip.machine = machine
            ip.save(update_fields=["machine"])
        return _external_ip(ip)

    @operation
    def external_ip_detach(self, *, ip_id: str) -> dto.ExternalIp:
        ip = self._ip(ip_id)
        ip.machine = None
        ip.save(update_fields=["machine"])
        return _external_ip(ip)

    @operation
    def external_ip_release(self, *, ip_id: str) -> None:
        self._ip(ip_id).delete()

    # Volumes ----------------------------------------------------------------------------

    def _volume(self, volume_id: str) -> LocalVolume:
        volume = (
            LocalVolume.objects.filter(cloud=self.cloud, project_id=self.project_id, uid=volume_id)
            .select_related("machine")
            .first()
        )
        if volume is None:
            raise NotFound(f"There is no volume {volume_id} in this project.")
        return volume

    @operation
    def volumes(self) -> list[dto.Volume]:
        volumes = LocalVolume.objects.filter(cloud=self.cloud, project_id=self.project_id).select_related("machine")
        return [_volume(v) for v in volumes]

    @operation
    def volume_get(self, *, volume_id: str) -> dto.Volume:
        return _volume(self._volume(volume_id))

    @operation
    def volume_create(self, *, name: str, size_gb: int) -> dto.Volume:
        if not isinstance(size_gb, int) or size_gb < 1:
            raise BadInput("A volume needs a size of at least 1 GB.", fields={"size_gb": ["At least 1."]})
        with transaction.atomic():
            self._check_quota(volumes=1, volume_gb=size_gb)
            volume = LocalVolume.objects.create(
                cloud=self.cloud, project_id=self.project_id, name=name or "", size_gb=size_gb
            )
        return _volume(volume)

    @operation
    def volume_attach(self, *, volume_id: str, machine_id: str) -> dto.Volume:
        with transaction.atomic():
            volume = self._volume(volume_id)
            machine = self._machine(machine_id, lock=True)
            if volume.machine_id is not None:
                raise InvalidOperation(
                    f"The volume {volume.name or volume.uid} is already attached to {volume.machine}."
                )
            if machine.status not in (S.ACTIVE, S.STOPPED):
                raise InvalidOperation(
                    f"The machine {machine.name} is {machine.status}; attach volumes when it is ACTIVE or STOPPED."
                )
            taken = set(machine.volumes.values_list("device", flat=True))
            device = next(
                f"/dev/vd{letter}" for letter in "bcdefghijklmnopqrstuvwxyz" if f"/dev/vd{letter}" not in taken
            )
            volume.machine = machine
            volume.device = device
            volume.save(update_fields=["machine", "device"])
        return _volume(volume)

    @operation
    def volume_detach(self, *, volume_id: str) -> dto.Volume:
        volume = self._volume(volume_id)
        if volume.machine_id is None:
            raise InvalidOperation(f"The volume {volume.name or volume.uid} is not attached to anything.")
        volume.machine = None
        volume.device = ""
        volume.save(update_fields=["machine", "device"])
        return _volume(volume)

    @operation
    def volume_delete(self, *, volume_id: str) -> None:
        volume = self._volume(volume_id)
        if volume.machine_id is not None:
            raise InvalidOperation(
                f"The volume {volume.name or volume.uid} is attached to {volume.machine}; detach it first."
            )
        volume.delete()

    # Kubernetes ---------------------------------------------------------------------------

    def _cluster(self, cluster_id: str, *, lock: bool = False) -> LocalCluster:
        queryset = LocalCluster.objects.filter(cloud=self.cloud, project_id=self.project_id).select_related(
            "template", "master_size", "worker_size"
        )
        if lock:
            queryset = queryset.select_for_update(of=("self",))
        cluster = queryset.filter(uid=cluster_id).first()
        if cluster is None:
            raise NotFound(f"There is no Kubernetes cluster {cluster_id} in this project.")
        return cluster

    def _template(self, template_id: str) -> LocalClusterTemplate:
        template = LocalClusterTemplate.objects.filter(cloud=self.cloud, uid=template_id).first()
        if template is None:
            raise BadInput(
                f"There is no cluster template {template_id} on this cloud.", fields={"template_id": ["Unknown."]}
            )
        return template

    @operation
    def cluster_templates(self) -> list[dto.KubernetesClusterTemplate]:
        return [
            dto.KubernetesClusterTemplate(
                id=t.uid,
                name=t.name,
                kubernetes_version=t.kubernetes_version,
                master_size_id=t.master_size.uid,
                worker_size_id=t.worker_size.uid,
            )
            for t in LocalClusterTemplate.objects.filter(cloud=self.cloud).select_related("master_size", "worker_size")
        ]

    @operation
    def clusters(self) -> list[dto.KubernetesCluster]:
        queryset = LocalCluster.objects.filter(cloud=self.cloud, project_id=self.project_id).select_related(
            "template", "master_size", "worker_size"
        )
        return [_cluster(c) for c in queryset]

    @operation
    def cluster_get(self, *, cluster_id: str) -> dto.KubernetesCluster:
        return _cluster(self._cluster(cluster_id))

    @operation
    def cluster_create(
        self,
        *,
        name: str,
        template_id: str,
        worker_count: int,
        worker_size_id: str | None = None,
        master_count: int = 1,
        key_name: str | None = None,
    ) -> dto.KubernetesCluster:
        name = (name or "").strip()
        if not name or len(name) > 100:
            raise BadInput("A cluster needs a name of 1 to 100 characters.", fields={"name": ["1 to 100 characters."]})
        if worker_count < 1:
            raise BadInput("A cluster needs at least one worker node.", fields={"worker_count": ["At least 1."]})
        if master_count not in (1, 3, 5):
            raise BadInput("A cluster has 1, 3 or 5 control-plane nodes.", fields={"master_count": ["1, 3 or 5."]})
        template = self._template(template_id)
        worker_size = template.worker_size
        if worker_size_id:
            found = LocalSize.objects.filter(cloud=self.cloud, uid=worker_size_id).first()
            if found is None:
                raise BadInput(
                    f"There is no size {worker_size_id} on this cloud.", fields={"worker_size_id": ["Unknown size."]}
                )
            worker_size = found
        master = template.master_size
        with transaction.atomic():
            self._check_quota(
                machines=master_count + worker_count,
                cpus=master_count * master.cpus + worker_count * worker_size.cpus,
                ram_mb=master_count * master.ram_mb + worker_count * worker_size.ram_mb,
            )
            failure = fault_take(
                cloud=self.cloud,
                project_id=self.project_id,
                operation="cluster_create",
                kinds=[LocalFault.Kind.BUILD_FAILURE],
            )
            external = LocalNetwork.objects.filter(cloud=self.cloud, external=True).first()
            used = set(LocalExternalIp.objects.filter(cloud=self.cloud).values_list("address", flat=True))
            used |= set(LocalCluster.objects.filter(cloud=self.cloud).values_list("api_address", flat=True))
            cluster = LocalCluster.objects.create(
                cloud=self.cloud,
                project_id=self.project_id,
                name=name,
                template=template,
                kubernetes_version=template.kubernetes_version,
                master_size=master,
                worker_size=worker_size,
                master_count=master_count,
                worker_count=worker_count,
                api_address=_next_address(external.cidr if external else "203.0.113.0/24", used),
                status=C.CREATE_IN_PROGRESS,
                settles_at=timezone.now() + self._delay("cluster_seconds"),
                settles_to=C.CREATE_FAILED if failure else C.CREATE_COMPLETE,
                status_reason=(failure.message or "The cluster failed to build (injected fault).") if failure else "",
            )
        return _cluster(cluster)

    def _cluster_update(self, cluster: LocalCluster, fields: list[str]) -> dto.KubernetesCluster:
        cluster.status = C.UPDATE_IN_PROGRESS
        cluster.settles_to = C.UPDATE_COMPLETE
        cluster.settles_at = timezone.now() + self._delay("cluster_seconds")
        cluster.save(update_fields=[*fields, "status", "settles_to", "settles_at"])
        return _cluster(cluster)

    def _cluster_for_update(self, cluster_id: str) -> LocalCluster:
        cluster = self._cluster(cluster_id, lock=True)
        if cluster.status not in (C.CREATE_COMPLETE, C.UPDATE_COMPLETE, C.UPDATE_FAILED):
            raise InvalidOperation(f"The cluster {cluster.name} is {cluster.status}; wait until it is ready.")
        return cluster

    @operation
    def cluster_resize(self, *, cluster_id: str, worker_count: int) -> dto.KubernetesCluster:
        if worker_count < 1:
            raise BadInput("A cluster needs at least one worker node.", fields={"worker_count": ["At least 1."]})
        with transaction.atomic():
            cluster = self._cluster_for_update(cluster_id)
            more = worker_count - cluster.worker_count
            if more == 0:
                raise InvalidOperation(f"The cluster {cluster.name} already has {worker_count} workers.")
            if more > 0:
                self._check_quota(
                    machines=more, cpus=more * cluster.worker_size.cpus, ram_mb=more * cluster.worker_size.ram_mb
                )
            cluster.worker_count = worker_count
            return self._cluster_update(cluster, ["worker_count"])

    @operation
    def cluster_upgrade(self, *, cluster_id: str, template_id: str) -> dto.KubernetesCluster:
        template = self._template(template_id)
        with transaction.atomic():
            cluster = self._cluster_for_update(cluster_id)
            if _version(template.kubernetes_version) <= _version(cluster.kubernetes_version):
                raise InvalidOperation(
                    f"The cluster runs Kubernetes {cluster.kubernetes_version}; the template {template.name} "
                    f"({template.kubernetes_version}) is not newer."
                )
            cluster.template = template
            cluster.kubernetes_version = template.kubernetes_version
            return self._cluster_update(cluster, ["template", "kubernetes_version"])

    @operation
    def cluster_delete(self, *, cluster_id: str) -> None:
        self._cluster(cluster_id).delete()

    @operation
    def cluster_kubeconfig(self, *, cluster_id: str) -> str:
        cluster = self._cluster(cluster_id)
        if cluster.status not in (C.CREATE_COMPLETE, C.UPDATE_COMPLETE, C.UPDATE_IN_PROGRESS, C.UPDATE_FAILED):
            raise InvalidOperation(f"The cluster {cluster.name} is {cluster.status}; it has no API to reach yet.")
        return _kubeconfig(cluster)

    # Capacity and leases ------------------------------------------------------------------

    @operation
    def hosts(self) -> list[dto.Host]:
        result = []
        for host in LocalHost.objects.filter(cloud=self.cloud):
            free = _host_free_now(host)
            result.append(
                dto.Host(
                    id=host.uid,
                    name=host.name,
                    total=dto.Capacity(cpus=host.cpus, ram_mb=host.ram_mb, disk_gb=host.disk_gb),
                    used=dto.Capacity(
                        cpus=host.cpus - free.cpus,
                        ram_mb=host.ram_mb - free.ram_mb,
                        disk_gb=host.disk_gb - free.disk_gb,
                    ),
                    reservable=host.reservable,
                    extra={"gpus": host.gpus},
                )
            )
        return result

    def _lease(self, lease_id: str) -> LocalLease:
        lease = LocalLease.objects.filter(cloud=self.cloud, project_id=self.project_id, uid=lease_id).first()
        if lease is None:
            raise NotFound(f"There is no lease {lease_id} in this project.")
        return lease

    @operation
    def leases(self) -> list[dto.Lease]:
        queryset = LocalLease.objects.filter(cloud=self.cloud, project_id=self.project_id).prefetch_related(
            "reservations__size"
        )
        return [_lease(lease) for lease in queryset]

    @operation
    def lease_get(self, *, lease_id: str) -> dto.Lease:
        return _lease(self._lease(lease_id))

    @operation
    def lease_create(
        self, *, name: str, start: datetime, end: datetime, reservations: Sequence[dto.ReservationRequest]
    ) -> dto.Lease:
        require_aware(start=start, end=end)
        name = (name or "").strip()
        if not name or len(name) > 100:
            raise BadInput("A lease needs a name of 1 to 100 characters.", fields={"name": ["1 to 100 characters."]})
        now = timezone.now()
        if start < now - timedelta(minutes=5):
            raise BadInput("A lease cannot start in the past.", fields={"start": ["In the past."]})
        if end <= start:
            raise BadInput("A lease must end after it starts.", fields={"end": ["Before the start."]})
        if not reservations:
            raise BadInput("A lease must reserve something: hosts or instances of a size.")
        sizes: list[LocalSize | None] = []
        for request in reservations:
            if request.count < 1:
                raise BadInput("Each reservation needs a count of at least 1.", fields={"count": ["At least 1."]})
            size = None
            if request.kind == dto.ReservationKind.INSTANCE:
                size = LocalSize.objects.filter(cloud=self.cloud, uid=request.size_id or "").first()
                if size is None:
                    raise BadInput(
                        f"There is no size {request.size_id} on this cloud to reserve.",
                        fields={"size_id": ["Unknown size."]},
                    )
            sizes.append(size)
        with transaction.atomic():
            list(LocalHost.objects.select_for_update().filter(cloud=self.cloud))  # one lease decision at a time
            lease = LocalLease.objects.create(
                cloud=self.cloud, project_id=self.project_id, name=name, start=start, end=end
            )
            for request, size in zip(reservations, sizes, strict=True):
                reservation = LocalReservation.objects.create(
                    lease=lease, kind=str(request.kind), count=request.count, size=size
                )
                _allocate(reservation)
        return _lease(lease)

    @operation
    def lease_update(self, *, lease_id: str, end: datetime) -> dto.Lease:
        require_aware(end=end)
        with transaction.atomic():
            list(LocalHost.objects.select_for_update().filter(cloud=self.cloud))
            lease = self._lease(lease_id)
            if _lease_status(lease) == dto.LeaseStatus.TERMINATED:
                raise InvalidOperation(f"The lease {lease.name} has ended; it cannot be changed.")
            if end <= max(lease.start, timezone.now()):
                raise BadInput("A lease must end after it starts and after now.", fields={"end": ["Too early."]})
            if end > lease.end:
                for allocation in LocalAllocation.objects.filter(reservation__lease=lease).select_related(
                    "host", "reservation__size"
                ):
                    whole, free = _host_free(allocation.host, lease.end, end, exclude=lease)
                    need = _allocation_need(allocation)
                    if whole or not _fits(free, need):
                        raise InvalidOperation(
                            f"The lease cannot be extended to {end:%Y-%m-%d %H:%M}: host {allocation.host.name} "
                            "is reserved by another lease by then."
                        )
            lease.end = end
            lease.save(update_fields=["end"])
        return _lease(lease)

    @operation
    def lease_delete(self, *, lease_id: str) -> None:
        lease = self._lease(lease_id)
        if _lease_status(lease) == dto.LeaseStatus.ACTIVE:
            lease.end = timezone.now()
            lease.save(update_fields=["end"])
            lease.machines.all().delete()
        else:
            lease.delete()


# Helpers ----------------------------------------------------------------------------------

QUOTA_LABELS = {
    "machines": "machines",
    "cpus": "CPUs",
    "ram_mb": "RAM",
    "external_ips": "external IPs",
    "volumes": "volumes",
    "volume_gb": "volume storage",
}


def _units(resource: str) -> str:
    return {"ram_mb": " MB", "volume_gb": " GB"}.get(resource, "")


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.lstrip("v").split(".") if part.isdigit())


def _used_internal(network: LocalNetwork) -> set[str]:
    return set(LocalMachine.objects.filter(network=network).values_list("internal_ip", flat=True))


def _next_address(cidr: str, used: set[str]) -> str:
    """The first free address of `cidr`, after the network address and the gateway (.1)."""
    net = ipaddress.ip_network(cidr)
    for index, address in enumerate(net.hosts()):
        if index >= 9 and str(address) not in used:  # .1-.9 for the gateway and services, as clouds do
            return str(address)
    raise InvalidOperation(f"The network {cidr} has no free addresses left.")


def ssh_fingerprint(public_key: str) -> str:
    """OpenSSH's SHA256 fingerprint; BadInput when the text is not an SSH public key."""
    parts = (public_key or "").split()
    if len(parts) < 2 or not parts[0].startswith(("ssh-", "ecdsa-", "sk-")):
        raise BadInput("That is not an SSH public key (expected e.g. 'ssh-ed25519 AAAA... you@host').")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadInput("That SSH public key is damaged: its key data is not valid base64.") from exc
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def _need(size: LocalSize, count: int = 1) -> dto.Capacity:
    return dto.Capacity(cpus=size.cpus * count, ram_mb=size.ram_mb * count, disk_gb=size.disk_gb * count)


def _fits(free: dto.Capacity, need: dto.Capacity) -> bool:
    return free.cpus >= need.cpus and free.ram_mb >= need.ram_mb and free.disk_gb >= need.disk_gb


def _minus(a: dto.Capacity, b: dto.Capacity) -> dto.Capacity:
    return dto.Capacity(cpus=a.cpus - b.cpus, ram_mb=a.ram_mb - b.ram_mb, disk_gb=a.disk_gb - b.disk_gb)


def _host_total(host: LocalHost) -> dto.Capacity:
    return dto.Capacity(cpus=host.cpus, ram_mb=host.ram_mb, disk_gb=host.disk_gb)


def _host_free_now(host: LocalHost) -> dto.Capacity:
    """What is left on a host now: its total minus the machines placed on it (ERROR ones hold nothing)."""
    free = _host_total(host)
    for machine in host.machines.exclude(status=S.ERROR).exclude(settles_to=S.ERROR).select_related("size"):
        free = _minus(free, _need(machine.size))
    return free


def _allocation_need(allocation: LocalAllocation) -> dto.Capacity:
    if allocation.reservation.kind == LocalReservation.Kind.HOST:
        return _host_total(allocation.host)
    assert allocation.reservation.size is not None  # noqa: S101 - instance reservations always have a size
    return _need(allocation.reservation.size, allocation.instances)


def _host_free(
    host: LocalHost, start: datetime, end: datetime, *, exclude: LocalLease | None = None
) -> tuple[bool, dto.Capacity]:
    """Whether another lease holds the whole host during [start, end), and what is left of it otherwise."""
    overlapping = LocalAllocation.objects.filter(
        host=host, reservation__lease__start__lt=end, reservation__lease__end__gt=start
    ).select_related("reservation__size", "host")
    if exclude is not None:
        overlapping = overlapping.exclude(reservation__lease=exclude)
    free = _host_total(host)
    for allocation in overlapping:
        if allocation.reservation.kind == LocalReservation.Kind.HOST:
            return True, dto.Capacity(cpus=0, ram_mb=0, disk_gb=0)
        free = _minus(free, _allocation_need(allocation))
    return False, free


def _allocate(reservation: LocalReservation) -> None:
    """Pick hosts from the reservable pool for the reservation, or raise InvalidOperation."""
    lease = reservation.lease
    hosts = list(LocalHost.objects.filter(cloud=lease.cloud, reservable=True).order_by("name"))
    window = f"between {lease.start:%Y-%m-%d %H:%M} and {lease.end:%Y-%m-%d %H:%M} UTC"
    if reservation.kind == LocalReservation.Kind.HOST:
        free_hosts = []
        for host in hosts:
            whole, free = _host_free(host, lease.start, lease.end)
            if not whole and free == _host_total(host):
                free_hosts.append(host)
        if len(free_hosts) < reservation.count:
            raise InvalidOperation(
                f"Not enough free hosts {window}: {reservation.count} wanted, {len(free_hosts)} free."
            )
        for host in free_hosts[: reservation.count]:
            LocalAllocation.objects.create(reservation=reservation, host=host)
        return
    size = reservation.size
    assert size is not None  # noqa: S101 - checked by the caller
    left = reservation.count
    for host in hosts:
        whole, free = _host_free(host, lease.start, lease.end)
        if whole:
            continue
        fit = min(
            free.cpus // max(size.cpus, 1), free.ram_mb // max(size.ram_mb, 1), free.disk_gb // max(size.disk_gb, 1)
        )
        take = min(fit, left)
        if take > 0:
            LocalAllocation.objects.create(reservation=reservation, host=host, instances=take)
            left -= take
        if left == 0:
            return
    raise InvalidOperation(
        f"Not enough free capacity {window}: room for {reservation.count - left} of the "
        f"{reservation.count} {size.name} machines wanted."
    )


def _lease_status(lease: LocalLease) -> dto.LeaseStatus:
    now = timezone.now()
    if now < lease.start:
        return dto.LeaseStatus.PENDING
    if now < lease.end:
        return dto.LeaseStatus.ACTIVE
    return dto.LeaseStatus.TERMINATED


# Rows to DTOs ------------------------------------------------------------------------------


def _image(image: LocalImage) -> dto.Image:
    return dto.Image(
        id=image.uid,
        name=image.name,
        status=dto.ImageStatus.ACTIVE,
        os_distro=image.os_distro,
        os_version=image.os_version,
        min_disk_gb=image.min_disk_gb,
        min_ram_mb=image.min_ram_mb,
        size_bytes=image.size_bytes,
        extra={"visibility": "private" if image.project_id else "public"},
    )


def _size(size: LocalSize) -> dto.Size:
    return dto.Size(
        id=size.uid,
        name=size.name,
        cpus=size.cpus,
        ram_mb=size.ram_mb,
        disk_gb=size.disk_gb,
        gpus=size.gpus,
        description=size.description,
    )


def _network(network: LocalNetwork) -> dto.Network:
    return dto.Network(id=network.uid, name=network.name, external=network.external, cidr=network.cidr)


def _machine(machine: LocalMachine) -> dto.Machine:
    ips = list(machine.external_ips.all())
    return dto.Machine(
        id=machine.uid,
        name=machine.name,
        status=S(machine.status),
        image_id=machine.image.uid,
        size_id=machine.size.uid,
        internal_ip=machine.internal_ip,
        external_ip=ips[0].address if ips else None,
        created_at=machine.created_at,
        key_name=machine.key_name or None,
        fault=machine.fault if machine.status == S.ERROR else "",
        lease_id=machine.lease.uid if machine.lease else None,
        metadata=dict(machine.metadata),
        extra={"host": machine.host.name if machine.host else None},
    )


def _firewall_rule(rule: LocalFirewallRule) -> dto.FirewallRule:
    return dto.FirewallRule(
        id=rule.uid,
        protocol=dto.FirewallProtocol(rule.protocol),
        port_min=rule.port_min,
        port_max=rule.port_max,
        remote_cidr=rule.remote_cidr,
    )


def _external_ip(ip: LocalExternalIp) -> dto.ExternalIp:
    return dto.ExternalIp(id=ip.uid, address=ip.address, machine_id=ip.machine.uid if ip.machine else None)


def _volume(volume: LocalVolume) -> dto.Volume:
    return dto.Volume(
        id=volume.uid,
        name=volume.name,
        size_gb=volume.size_gb,
        status=dto.VolumeStatus.IN_USE if volume.machine else dto.VolumeStatus.AVAILABLE,
        machine_id=volume.machine.uid if volume.machine else None,
        device=volume.device or None,
    )


def _cluster(cluster: LocalCluster) -> dto.KubernetesCluster:
    return dto.KubernetesCluster(
        id=cluster.uid,
        name=cluster.name,
        status=C(cluster.status),
        template_id=cluster.template.uid,
        kubernetes_version=cluster.kubernetes_version,
        node_groups=(
            dto.NodeGroup(
                name="default-master", role="master", size_id=cluster.master_size.uid, count=cluster.master_count
            ),
            dto.NodeGroup(
                name="default-worker", role="worker", size_id=cluster.worker_size.uid, count=cluster.worker_count
            ),
        ),
        api_address=f"https://{cluster.api_address}:6443",
        status_reason=cluster.status_reason,
    )


def _lease(lease: LocalLease) -> dto.Lease:
    return dto.Lease(
        id=lease.uid,
        name=lease.name,
        status=_lease_status(lease),
        start=lease.start,
        end=lease.end,
        reservations=tuple(
            dto.Reservation(
                id=r.uid,
                kind=dto.ReservationKind(r.kind),
                count=r.count,
                size_id=r.size.uid if r.size else None,
            )
            for r in lease.reservations.all()
        ),
    )


def _kubeconfig(cluster: LocalCluster) -> str:
    name = f"{cluster.name}-{cluster.uid[:8]}"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": f"https://{cluster.api_address}:6443"}}],
        "users": [{"name": f"{name}-admin", "user": {"token": hashlib.sha256(cluster.uid.encode()).hexdigest()}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-admin"}}],
        "current-context": name,
    }
    header = "# Simulated cluster from Atrium's local cloud: nothing answers at this address.\n"
    return header + yaml.safe_dump(config, sort_keys=False)


def _console_log(machine: LocalMachine) -> str:
    """A plausible serial console: kernel and cloud-init lines, then what happened since."""
    started = machine.created_at or timezone.now()
    stamp = started.strftime("%a, %d %b %Y %H:%M:%S +0000")
    lines = [
        f"[    0.000000] Linux version 6.8.0 ({machine.image.os_distro or 'linux'}) #1 SMP",
        f"[    0.000000] Command line: root=LABEL=cloudimg-rootfs console=ttyS0 ({machine.image.name})",
        f"[    0.412000] Memory: {machine.size.ram_mb * 1024}K available, {machine.size.cpus} CPUs",
    ]
    if machine.status == S.BUILD:
        lines.append("[    1.204000] Booting...")
        return "\n".join(lines)
    if machine.status == S.ERROR:
        lines.append(f"[    1.204000] Build failed: {machine.fault}")
        return "\n".join(lines)
    lines += [
        f"Cloud-init v. 24.1 running 'init' at {stamp}.",
        f"ci-info: | eth0 | True | {machine.internal_ip} | 255.255.255.0 | global |",
        f"Cloud-init v. 24.1 finished at {stamp}. Datasource DataSourceOpenStack.",
        f"{machine.name} login: ",
    ]
    for when, what in machine.events:
        lines.append(f"[{when}] machine {what}")
    return "\n".join(lines)
