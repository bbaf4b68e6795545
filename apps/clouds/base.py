"""The driver interface every cloud implements.

A driver is bound to one tenancy's project on its cloud. Required operations
are abstract; optional ones raise `Unsupported` unless the driver implements
them, and `capabilities()` says which ones it does so pages can hide the rest.
All arguments are keyword-only; ids are the cloud's own ids as strings.
"""

from __future__ import annotations

import abc
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, NoReturn

from apps.core.names import name_clean

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
    """The name a machine may have on every cloud we drive: 1 to 255 characters, none
    of them control or invisible ones (apps.core.names)."""
    return name_clean(name, max_length=255, error=BadInput, what="machine name")


#: What a new machine's own firewall lets in: SSH and ping, from anywhere.
FIREWALL_DEFAULT_RULES: tuple[tuple[dto.FirewallProtocol, int | None, int | None, str], ...] = (
    (dto.FirewallProtocol.TCP, 22, 22, "0.0.0.0/0"),
    (dto.FirewallProtocol.ICMP, None, None, "0.0.0.0/0"),
)


def firewall_rule_clean(
    *, protocol: str, port_min: int | None, port_max: int | None, remote_cidr: str | None
) -> tuple[dto.FirewallProtocol, int | None, int | None, str]:
    """A firewall rule as every driver stores it, or BadInput naming the wrong fields.

    Ports go with TCP and UDP only; one port may be given as `port_min` alone;
    the remote range is an IPv4 or IPv6 network (a bare address means just it)."""
    errors: dict[str, list[str]] = {}
    try:
        kind = dto.FirewallProtocol(protocol)
    except ValueError:
        choices = ", ".join(p.value for p in dto.FirewallProtocol)
        raise BadInput(f"Unknown protocol {protocol!r}.", fields={"protocol": [f"One of {choices}."]}) from None
    if kind.has_ports:
        if port_min is None:
            errors["port_min"] = ["TCP and UDP rules need a port."]
        port_max = port_min if port_max is None else port_max
        for field_name, port in (("port_min", port_min), ("port_max", port_max)):
            if port is not None and not 1 <= port <= 65535:
                errors[field_name] = ["A port from 1 to 65535."]
        if port_min is not None and port_max is not None and port_max < port_min and "port_max" not in errors:
            errors["port_max"] = ["Not below the first port."]
    elif port_min is not None or port_max is not None:
        errors["port_min"] = [f"{kind.value.upper()} rules have no ports."]
    cidr = (remote_cidr or "").strip() or "0.0.0.0/0"
    try:
        cidr = str(ipaddress.ip_network(cidr, strict=False))
    except ValueError:
        errors["remote_cidr"] = ["An address or network, such as 192.0.2.0/24."]
    if errors:
        raise BadInput("That firewall rule is not valid.", fields=errors)
    return kind, port_min, port_max, cidr


@dataclass(frozen=True)
class Capabilities:
    """What a driver (for this cloud and project) can do beyond machines."""

    external_ips: bool = False
    #: Each machine Atrium makes has its own firewall (inbound rules) to edit.
    firewall: bool = False
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

    # A machine's own firewall ------------------------------------------------------------
    # Drivers that offer it give every machine they create a firewall of its own
    # (FIREWALL_DEFAULT_RULES to start with) and remove it with the machine.

    def machine_firewall(self, *, machine_id: str) -> list[dto.FirewallRule]:
        """The machine's inbound rules; InvalidOperation for a machine made outside Atrium."""
        self._unsupported("machine firewalls")

    def machine_firewalls(self, *, machine_ids: Sequence[str]) -> dict[str, list[dto.FirewallRule] | None]:
        """The firewalls of many machines in a few calls (the sync's way): for each machine
        found, its inbound rules, or None when it has no firewall of its own. Machines the
        driver cannot tell about yet (gone, or still without a network port) are left out."""
        self._unsupported("machine firewalls")

    def machine_firewall_rule_add(
        self,
        *,
        machine_id: str,
        protocol: str,
        port_min: int | None = None,
        port_max: int | None = None,
        remote_cidr: str | None = None,
    ) -> dto.FirewallRule:
        """Let more in (checked with `firewall_rule_clean`); a rule it already has is InvalidOperation."""
        self._unsupported("machine firewalls")

    def machine_firewall_rule_remove(self, *, machine_id: str, rule_id: str) -> None:
        self._unsupported("machine firewalls")

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
