"""The driver interface every cloud implements.

A driver is bound to one tenancy's project on its cloud. Required operations
are abstract; optional ones raise `Unsupported` unless the driver implements
them, and `capabilities()` says which ones it does so pages can hide the rest.
All arguments are keyword-only; ids are the cloud's own ids as strings.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, NoReturn

from . import dto
from .errors import BadInput, Unsupported

if TYPE_CHECKING:
    from apps.accounts.models import User
    from apps.tenancies.models import Tenancy


def require_aware(**moments: datetime) -> None:
    """Times given to a cloud must say their time zone (BadInput otherwise)."""
    for name, moment in moments.items():
        if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
            raise BadInput(f"The {name} time must include a time zone.", fields={name: ["Needs a time zone."]})


def machine_name_clean(name: str | None) -> str:
    """The name a machine may have on every cloud we drive: 1 to 255 characters."""
    cleaned = (name or "").strip()
    if not cleaned or len(cleaned) > 255:
        raise BadInput("A machine needs a name of 1 to 255 characters.", fields={"name": ["1 to 255 characters."]})
    return cleaned


@dataclass(frozen=True)
class Capabilities:
    """What a driver (for this cloud and project) can do beyond machines."""

    external_ips: bool = False
    volumes: bool = False
    keypairs: bool = False
    console_log: bool = False
    console: dto.ConsoleKind | None = None
    kubernetes: bool = False
    leases: bool = False
    host_capacity: bool = False


class CloudDriver(abc.ABC):
    #: The value of `Cloud.driver` this class serves.
    name: ClassVar[str]

    def __init__(self, *, tenancy: Tenancy, user: User | None = None):
        self.tenancy = tenancy
        self.cloud = tenancy.cloud
        self.project_id = tenancy.project_id
        #: Who the driver acts for; only clouds with per-user federation use it.
        self.user = user

    def _unsupported(self, what: str) -> NoReturn:
        raise Unsupported(f"{self.cloud.name} does not offer {what}.")

    @abc.abstractmethod
    def capabilities(self) -> Capabilities: ...

    # Images, sizes, networks, quotas ------------------------------------------------

    @abc.abstractmethod
    def images(self) -> list[dto.Image]: ...

    @abc.abstractmethod
    def image_get(self, *, image_id: str) -> dto.Image: ...

    @abc.abstractmethod
    def sizes(self) -> list[dto.Size]: ...

    @abc.abstractmethod
    def size_get(self, *, size_id: str) -> dto.Size: ...

    @abc.abstractmethod
    def networks(self) -> list[dto.Network]:
        """The networks the project can use: its own and the external one(s)."""

    @abc.abstractmethod
    def tenant_network(self) -> dto.Network:
        """The project's network for new machines (made, with a router, if it has none)."""

    @abc.abstractmethod
    def quotas(self) -> list[dto.Quota]: ...

    # Machines -------------------------------------------------------------------------

    @abc.abstractmethod
    def machines(self) -> list[dto.Machine]: ...

    @abc.abstractmethod
    def machine_get(self, *, machine_id: str) -> dto.Machine: ...

    @abc.abstractmethod
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
        """Start building a machine; it is returned in BUILD (ACTIVE or ERROR later)."""

    @abc.abstractmethod
    def machine_start(self, *, machine_id: str) -> dto.Machine: ...

    @abc.abstractmethod
    def machine_stop(self, *, machine_id: str) -> dto.Machine: ...

    @abc.abstractmethod
    def machine_reboot(self, *, machine_id: str, hard: bool = False) -> dto.Machine: ...

    @abc.abstractmethod
    def machine_delete(self, *, machine_id: str) -> None:
        """Delete the machine; deleting one already gone raises NotFound."""

    def machine_console_log(self, *, machine_id: str, lines: int | None = None) -> str:
        self._unsupported("console logs")

    def machine_console(self, *, machine_id: str) -> dto.ConsoleAccess:
        self._unsupported("a web console")

    # Key pairs --------------------------------------------------------------------------

    def keypairs(self) -> list[dto.KeyPair]:
        self._unsupported("key pairs")

    def keypair_import(self, *, name: str, public_key: str) -> dto.KeyPair:
        self._unsupported("key pairs")

    def keypair_delete(self, *, name: str) -> None:
        self._unsupported("key pairs")

    # External IPs -------------------------------------------------------------------------

    def external_ips(self) -> list[dto.ExternalIp]:
        self._unsupported("external IPs")

    def external_ip_allocate(self) -> dto.ExternalIp:
        self._unsupported("external IPs")

    def external_ip_attach(self, *, ip_id: str, machine_id: str) -> dto.ExternalIp:
        self._unsupported("external IPs")

    def external_ip_detach(self, *, ip_id: str) -> dto.ExternalIp:
        self._unsupported("external IPs")

    def external_ip_release(self, *, ip_id: str) -> None:
        self._unsupported("external IPs")

    # Volumes ----------------------------------------------------------------------------

    def volumes(self) -> list[dto.Volume]:
        self._unsupported("volumes")

    def volume_get(self, *, volume_id: str) -> dto.Volume:
        self._unsupported("volumes")

    def volume_create(self, *, name: str, size_gb: int) -> dto.Volume:
        self._unsupported("volumes")

    def volume_attach(self, *, volume_id: str, machine_id: str) -> dto.Volume:
        self._unsupported("volumes")

    def volume_detach(self, *, volume_id: str) -> dto.Volume:
        self._unsupported("volumes")

    def volume_delete(self, *, volume_id: str) -> None:
        self._unsupported("volumes")

    # Kubernetes ---------------------------------------------------------------------------

    def cluster_templates(self) -> list[dto.KubernetesClusterTemplate]:
        self._unsupported("Kubernetes clusters")

    def clusters(self) -> list[dto.KubernetesCluster]:
        self._unsupported("Kubernetes clusters")

    def cluster_get(self, *, cluster_id: str) -> dto.KubernetesCluster:
        self._unsupported("Kubernetes clusters")

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
        self._unsupported("Kubernetes clusters")

    def cluster_resize(self, *, cluster_id: str, worker_count: int) -> dto.KubernetesCluster:
        self._unsupported("Kubernetes clusters")

    def cluster_upgrade(self, *, cluster_id: str, template_id: str) -> dto.KubernetesCluster:
        self._unsupported("Kubernetes clusters")

    def cluster_delete(self, *, cluster_id: str) -> None:
        self._unsupported("Kubernetes clusters")

    def cluster_kubeconfig(self, *, cluster_id: str) -> str:
        self._unsupported("Kubernetes clusters")

    # Capacity and leases ----------------------------------------------------------------

    def hosts(self) -> list[dto.Host]:
        self._unsupported("a view of host capacity")

    def leases(self) -> list[dto.Lease]:
        self._unsupported("reservations")

    def lease_get(self, *, lease_id: str) -> dto.Lease:
        self._unsupported("reservations")

    def lease_create(
        self, *, name: str, start: datetime, end: datetime, reservations: Sequence[dto.ReservationRequest]
    ) -> dto.Lease:
        self._unsupported("reservations")

    def lease_update(self, *, lease_id: str, end: datetime) -> dto.Lease:
        self._unsupported("reservations")

    def lease_delete(self, *, lease_id: str) -> None:
        """End the lease now (before its start: cancel it)."""
        self._unsupported("reservations")
