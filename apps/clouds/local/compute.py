"""The local cloud's compute family: images, sizes, quotas, machines (placed on
hosts, or in a lease's), their console logs and key pairs."""

from __future__ import annotations

import base64
import binascii
import hashlib
import time

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from .. import dto
from ..base import Pause
from ..errors import BadInput, InvalidOperation, NotFound, QuotaExceeded
from ..models import (
    LocalAllocation,
    LocalFault,
    LocalHost,
    LocalImage,
    LocalKeyPair,
    LocalLease,
    LocalMachine,
    LocalNetwork,
    LocalReservation,
    LocalSize,
    LocalVolume,
)
from .base import QUOTA_LABELS, LocalBase, operation, units
from .capacity import host_free_now
from .convert import console_log_text, image_dto, lease_status, machine_dto, size_dto
from .faults import fault_take
from .network import SHARED_FIREWALL, next_address, used_internal

NO_VALID_HOST = "No valid host was found. There are not enough hosts available."
S = dto.MachineStatus


class LocalCompute(LocalBase):
    def _images(self) -> QuerySet[LocalImage]:
        return LocalImage.objects.filter(cloud_id=self.cloud_id).filter(
            Q(project_id="") | Q(project_id=self.project_id)
        )

    @operation
    def images(self) -> list[dto.Image]:
        return [image_dto(image) for image in self._images()]

    @operation
    def image_get(self, *, image_id: str) -> dto.Image:
        image = self._images().filter(uid=image_id).first()
        if image is None:
            raise NotFound(f"There is no image {image_id} on this cloud.")
        return image_dto(image)

    @operation
    def sizes(self) -> list[dto.Size]:
        return [size_dto(size) for size in LocalSize.objects.filter(cloud_id=self.cloud_id)]

    @operation
    def size_get(self, *, size_id: str) -> dto.Size:
        size = LocalSize.objects.filter(cloud_id=self.cloud_id, uid=size_id).first()
        if size is None:
            raise NotFound(f"There is no size {size_id} on this cloud.")
        return size_dto(size)

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
                units=units(resource).strip(),
            )
            for resource, label in QUOTA_LABELS.items()
        ]

    # Machines -----------------------------------------------------------------------------

    @operation
    def machines(self) -> list[dto.Machine]:
        return [machine_dto(m) for m in self._machines().prefetch_related("external_ips")]

    @operation
    def machine_get(self, *, machine_id: str) -> dto.Machine:
        return machine_dto(self._machine(machine_id))

    @operation
    def _machine_create(self, spec: dto.MachineSpec) -> dto.Machine:
        image = self._images().filter(uid=spec.image_id).first()
        if image is None:
            raise BadInput(f"There is no image {spec.image_id} on this cloud.", fields={"image_id": ["Unknown image."]})
        size = LocalSize.objects.filter(cloud_id=self.cloud_id, uid=spec.size_id).first()
        if size is None:
            raise BadInput(f"There is no size {spec.size_id} on this cloud.", fields={"size_id": ["Unknown size."]})
        if image.min_disk_gb > size.disk_gb or image.min_ram_mb > size.ram_mb:
            raise BadInput(
                f"The image {image.name} needs at least {image.min_disk_gb} GB of disk and {image.min_ram_mb} MB "
                f"of RAM; the size {size.name} has {size.disk_gb} GB and {size.ram_mb} MB.",
                fields={"size_id": ["Too small for the image."]},
            )
        if (
            spec.key_name
            and not LocalKeyPair.objects.filter(
                cloud_id=self.cloud_id, project_id=self.project_id, name=spec.key_name
            ).exists()
        ):
            raise BadInput(
                f"There is no key pair {spec.key_name!r} in this project.", fields={"key_name": ["Unknown."]}
            )
        if spec.firewall_id not in (None, SHARED_FIREWALL):
            raise BadInput(
                f"There is no firewall {spec.firewall_id} in this project.", fields={"firewall_id": ["Unknown."]}
            )
        if spec.network_id:
            network = LocalNetwork.objects.filter(
                cloud_id=self.cloud_id, project_id=self.project_id, uid=spec.network_id, external=False
            ).first()
            if network is None:
                raise BadInput(
                    f"There is no network {spec.network_id} in this project.",
                    fields={"network_id": ["Unknown network."]},
                )
        else:
            network = self._tenant_network()
        with transaction.atomic():
            self._check_quota(machines=1, cpus=size.cpus, ram_mb=size.ram_mb)
            lease = self._lease_for_machine(spec.lease_id, size) if spec.lease_id else None
            host = self._place(size, lease)
            failure = fault_take(
                cloud_id=self.cloud_id,
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
                cloud_id=self.cloud_id,
                project_id=self.project_id,
                name=spec.name,
                image=image,
                size=size,
                network=network,
                host=None if fault else host,
                lease=lease,
                internal_ip=next_address(network.cidr, used_internal(network)),
                status=S.BUILD,
                settles_at=timezone.now() + self._delay("build_seconds"),
                settles_to=S.ERROR if fault else S.ACTIVE,
                fault=fault,
                key_name=spec.key_name or "",
                user_data=spec.user_data or "",
                metadata=dict(spec.metadata),
                firewall_shared=True,  # in the project's shared firewall until its rules change
            )
        return machine_dto(machine)

    def _place(self, size: LocalSize, lease: LocalLease | None) -> LocalHost | None:
        """The first host with room for `size` (the lease's hosts for a machine in a lease)."""
        hosts = LocalHost.objects.select_for_update().filter(cloud_id=self.cloud_id)
        if lease is None:
            hosts = hosts.filter(reservable=False)
        else:
            held = LocalAllocation.objects.filter(reservation__lease=lease).values("host_id")
            hosts = hosts.filter(pk__in=held)
        for host in hosts.order_by("name"):
            free = host_free_now(host)
            if free.cpus >= size.cpus and free.ram_mb >= size.ram_mb and free.disk_gb >= size.disk_gb:
                return host
        return None

    def _lease_for_machine(self, lease_id: str, size: LocalSize) -> LocalLease:
        lease = self._project_rows(LocalLease).filter(uid=lease_id).first()
        if lease is None:
            raise BadInput(f"There is no lease {lease_id} in this project.", fields={"lease_id": ["Unknown lease."]})
        if lease_status(lease) != dto.LeaseStatus.ACTIVE:
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
        return machine_dto(machine)

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
    def machine_delete(self, *, machine_id: str, pause: Pause = time.sleep) -> None:
        # Nothing to wait for here: the simulated cloud lets go of a machine at once.
        with transaction.atomic():
            machine = self._machine(machine_id, lock=True)
            LocalVolume.objects.filter(machine=machine).update(machine=None, device="")
            machine.delete()

    @operation
    def machine_console_log(self, *, machine_id: str, lines: int | None = None) -> str:
        text = console_log_text(self._machine(machine_id)).splitlines()
        if lines is not None:
            text = text[-lines:] if lines > 0 else []
        return "\n".join(text) + ("\n" if text else "")

    # Key pairs ---------------------------------------------------------------------------

    @operation
    def keypairs(self) -> list[dto.KeyPair]:
        return [
            dto.KeyPair(name=k.name, fingerprint=k.fingerprint, public_key=k.public_key)
            for k in self._project_rows(LocalKeyPair)
        ]

    @operation
    def keypair_import(self, *, name: str, public_key: str) -> dto.KeyPair:
        if not name or len(name) > 255:
            raise BadInput("A key pair needs a name of 1 to 255 characters.")
        fingerprint = ssh_fingerprint(public_key)
        with transaction.atomic():
            if self._project_rows(LocalKeyPair).filter(name=name).exists():
                raise InvalidOperation(f"A key pair called {name!r} already exists in this project.")
            key = LocalKeyPair.objects.create(
                cloud_id=self.cloud_id,
                project_id=self.project_id,
                name=name,
                public_key=public_key.strip(),
                fingerprint=fingerprint,
            )
        return dto.KeyPair(name=key.name, fingerprint=key.fingerprint, public_key=key.public_key)

    @operation
    def keypair_delete(self, *, name: str) -> None:
        deleted, _ = self._project_rows(LocalKeyPair).filter(name=name).delete()
        if not deleted:
            raise NotFound(f"There is no key pair {name!r} in this project.")


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
