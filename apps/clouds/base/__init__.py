"""The driver interface every cloud implements, one family of resources per module.

A driver is bound to one project on its cloud (a `Target`, apps.clouds.target).
Required operations are abstract; optional ones raise `Unsupported` unless the
driver implements them, and `capabilities()` says which ones it does so pages can
hide the rest (each family names its flags in `capability_flags`). All arguments
are keyword-only; ids are the cloud's own ids as strings.

- compute: images, sizes, quotas, machines, consoles, key pairs
- network: the project's networks, external IPs, machine firewalls
- storage: volumes
- kubernetes: clusters
- reservations: host capacity, leases

A driver is one class composed of its families (e.g. apps.clouds.openstack.driver).
"""

from __future__ import annotations

from .compute import ComputeDriver, machine_name_clean
from .core import Capabilities, DriverCore, Pause, require_aware
from .kubernetes import KubernetesDriver
from .network import (
    FIREWALL_DEFAULT_RULES,
    NetworkDriver,
    firewall_rule_clean,
    in_shared_firewall,
    shared_rule_id,
    shared_rules,
)
from .reservations import ReservationsDriver
from .storage import StorageDriver

__all__ = [
    "FIREWALL_DEFAULT_RULES",
    "Capabilities",
    "CloudDriver",
    "ComputeDriver",
    "DriverCore",
    "KubernetesDriver",
    "NetworkDriver",
    "Pause",
    "ReservationsDriver",
    "StorageDriver",
    "firewall_rule_clean",
    "in_shared_firewall",
    "machine_name_clean",
    "require_aware",
    "shared_rule_id",
    "shared_rules",
]

#: The families, in the order a driver composes them.
FAMILIES: tuple[type[DriverCore], ...] = (
    ComputeDriver,
    NetworkDriver,
    StorageDriver,
    KubernetesDriver,
    ReservationsDriver,
)


class CloudDriver(ComputeDriver, NetworkDriver, StorageDriver, KubernetesDriver, ReservationsDriver):
    """The whole interface: every family. A cloud's driver is this, composed of its own family classes."""
