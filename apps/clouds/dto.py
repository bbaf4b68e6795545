"""What drivers return and take: frozen dataclasses, normalised status enums.

No SDK object ever leaves a driver: each cloud's own detail that has no field
here goes into `extra` (a plain mapping of JSON-friendly values).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

Extra = Mapping[str, Any]


class MachineStatus(StrEnum):
    BUILD = "BUILD"
    ACTIVE = "ACTIVE"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    STARTING = "STARTING"
    REBOOTING = "REBOOTING"
    DELETING = "DELETING"
    ERROR = "ERROR"
    UNKNOWN = "UNKNOWN"

    @property
    def is_transitional(self) -> bool:
        return self in _TRANSITIONAL


_TRANSITIONAL = {
    MachineStatus.BUILD,
    MachineStatus.STOPPING,
    MachineStatus.STARTING,
    MachineStatus.REBOOTING,
    MachineStatus.DELETING,
}


class ImageStatus(StrEnum):
    ACTIVE = "ACTIVE"
    QUEUED = "QUEUED"
    ERROR = "ERROR"
    UNKNOWN = "UNKNOWN"


class VolumeStatus(StrEnum):
    CREATING = "CREATING"
    AVAILABLE = "AVAILABLE"
    ATTACHING = "ATTACHING"
    IN_USE = "IN_USE"
    DETACHING = "DETACHING"
    DELETING = "DELETING"
    ERROR = "ERROR"
    UNKNOWN = "UNKNOWN"


class ClusterStatus(StrEnum):
    CREATE_IN_PROGRESS = "CREATE_IN_PROGRESS"
    CREATE_COMPLETE = "CREATE_COMPLETE"
    CREATE_FAILED = "CREATE_FAILED"
    UPDATE_IN_PROGRESS = "UPDATE_IN_PROGRESS"
    UPDATE_COMPLETE = "UPDATE_COMPLETE"
    UPDATE_FAILED = "UPDATE_FAILED"
    DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"
    DELETE_FAILED = "DELETE_FAILED"
    UNKNOWN = "UNKNOWN"


class LeaseStatus(StrEnum):
    PENDING = "PENDING"
    STARTING = "STARTING"
    ACTIVE = "ACTIVE"
    TERMINATING = "TERMINATING"
    TERMINATED = "TERMINATED"
    ERROR = "ERROR"
    UNKNOWN = "UNKNOWN"


class ReservationKind(StrEnum):
    HOST = "host"
    INSTANCE = "instance"


class FirewallProtocol(StrEnum):
    TCP = "tcp"
    UDP = "udp"
    ICMP = "icmp"
    ANY = "any"

    @property
    def has_ports(self) -> bool:
        return self in (FirewallProtocol.TCP, FirewallProtocol.UDP)


class ConsoleKind(StrEnum):
    NOVNC = "novnc"
    SERIAL = "serial"


@dataclass(frozen=True)
class Image:
    id: str
    name: str
    status: ImageStatus
    os_distro: str = ""
    os_version: str = ""
    min_disk_gb: int = 0
    min_ram_mb: int = 0
    size_bytes: int | None = None
    extra: Extra = field(default_factory=dict)


@dataclass(frozen=True)
class Size:
    id: str
    name: str
    cpus: int
    ram_mb: int
    disk_gb: int
    gpus: int = 0
    description: str = ""
    extra: Extra = field(default_factory=dict)


@dataclass(frozen=True)
class Network:
    id: str
    name: str
    external: bool
    cidr: str = ""
    extra: Extra = field(default_factory=dict)


@dataclass(frozen=True)
class Machine:
    id: str
    name: str
    status: MachineStatus
    image_id: str
    size_id: str
    internal_ip: str | None = None
    external_ip: str | None = None
    created_at: datetime | None = None
    key_name: str | None = None
    fault: str = ""
    lease_id: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    extra: Extra = field(default_factory=dict)


@dataclass(frozen=True)
class FirewallRule:
    """One way in to a machine: traffic of `protocol` (to ports `port_min`..`port_max`
    for TCP and UDP) from addresses in `remote_cidr`. A machine's firewall lets
    everything out and, in, only what a rule allows."""

    id: str
    protocol: FirewallProtocol
    port_min: int | None = None
    port_max: int | None = None
    remote_cidr: str = "0.0.0.0/0"

    @property
    def key(self) -> tuple[str, int | None, int | None, str]:
        """What makes two rules the same (a FirewallRule row's `key` too)."""
        return (self.protocol.value, self.port_min, self.port_max, self.remote_cidr)


@dataclass(frozen=True)
class Volume:
    id: str
    name: str
    size_gb: int
    status: VolumeStatus
    machine_id: str | None = None
    device: str | None = None
    extra: Extra = field(default_factory=dict)


@dataclass(frozen=True)
class ExternalIp:
    id: str
    address: str
    machine_id: str | None = None
    extra: Extra = field(default_factory=dict)


@dataclass(frozen=True)
class Quota:
    """One resource's limit and use in the project; `limit` None means unlimited."""

    resource: str
    label: str
    limit: int | None
    used: int
    units: str = ""

    @property
    def free(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.used, 0)


@dataclass(frozen=True)
class KeyPair:
    name: str
    fingerprint: str
    public_key: str = ""


@dataclass(frozen=True)
class ConsoleAccess:
    kind: ConsoleKind
    url: str
    extra: Extra = field(default_factory=dict)


@dataclass(frozen=True)
class KubernetesClusterTemplate:
    id: str
    name: str
    kubernetes_version: str
    master_size_id: str | None = None
    worker_size_id: str | None = None
    extra: Extra = field(default_factory=dict)


@dataclass(frozen=True)
class NodeGroup:
    name: str
    role: str  # "master" or "worker"
    size_id: str
    count: int


@dataclass(frozen=True)
class KubernetesCluster:
    id: str
    name: str
    status: ClusterStatus
    template_id: str
    kubernetes_version: str
    node_groups: tuple[NodeGroup, ...] = ()
    api_address: str | None = None
    status_reason: str = ""
    extra: Extra = field(default_factory=dict)

    @property
    def worker_count(self) -> int:
        return sum(group.count for group in self.node_groups if group.role == "worker")


@dataclass(frozen=True)
class Capacity:
    cpus: int
    ram_mb: int
    disk_gb: int


@dataclass(frozen=True)
class Host:
    """A hypervisor: what it has and what is in use (operators' capacity view)."""

    id: str
    name: str
    total: Capacity
    used: Capacity
    reservable: bool = False
    extra: Extra = field(default_factory=dict)


@dataclass(frozen=True)
class ReservationRequest:
    """Part of a lease request: `count` whole hosts, or `count` instances of `size_id`."""

    kind: ReservationKind
    count: int
    size_id: str | None = None


@dataclass(frozen=True)
class Reservation:
    id: str
    kind: ReservationKind
    count: int
    size_id: str | None = None
    extra: Extra = field(default_factory=dict)


@dataclass(frozen=True)
class Lease:
    id: str
    name: str
    status: LeaseStatus
    start: datetime
    end: datetime
    reservations: tuple[Reservation, ...] = ()
    status_reason: str = ""
    extra: Extra = field(default_factory=dict)


# Requests: what a create asks for, checked once by the interface before a driver sees it.


@dataclass(frozen=True)
class MachineSpec:
    """A machine to create (its name already cleaned, `machine_name_clean`)."""

    name: str
    image_id: str
    size_id: str
    network_id: str | None = None
    key_name: str | None = None
    user_data: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    lease_id: str | None = None
    #: The project's shared firewall (`NetworkDriver.firewall_shared`) the machine starts in; None:
    #: the driver finds it (a caller that keeps its id passes it, and spares the cloud a call).
    firewall_id: str | None = None


@dataclass(frozen=True)
class SharedFirewall:
    """The firewall a project's machines share while their rules are the defaults (one security
    group per project): its id and its rules, as a machine in it lists them (`shared_rule_id`)."""

    id: str
    rules: tuple[FirewallRule, ...]


@dataclass(frozen=True)
class ClusterSpec:
    """A Kubernetes cluster to create (at least one worker)."""

    name: str
    template_id: str
    worker_count: int
    worker_size_id: str | None = None
    master_count: int = 1
    key_name: str | None = None


@dataclass(frozen=True)
class FirewallRuleSpec:
    """An inbound rule to add, as `firewall_rule_clean` made it: ports only for TCP and UDP."""

    protocol: FirewallProtocol
    port_min: int | None
    port_max: int | None
    remote_cidr: str
