"""Machines, external IPs, volumes and machine firewall rules of a tenancy: what was asked for (by whom,
when) and, beside it, what the cloud was last seen to have.

Pages and the API read these rows, never the cloud. Jobs (apps/machines/jobs/,
the tenancy sync in `jobs/sync.py`) bring the observed fields up to date; rows the
sync finds on the cloud without a request behind them are marked `external`.
"""

import ipaddress

from django.db import models

from apps.clouds.dto import FirewallProtocol, MachineStatus, VolumeStatus
from apps.core.resources.models import CloudResource


class Machine(CloudResource):
    STATUS_CHOICES = [(s.value, s.value.title()) for s in MachineStatus]

    name = models.CharField(max_length=255)
    status = models.CharField(max_length=20, choices=STATUS_CHOICES, default=MachineStatus.BUILD.value)
    fault = models.TextField(blank=True, default="")
    image_id = models.CharField(max_length=255)
    image_name = models.CharField(max_length=255, blank=True, default="")
    size_id = models.CharField(max_length=255)
    size_name = models.CharField(max_length=255, blank=True, default="")
    cpus = models.PositiveIntegerField(default=0)
    ram_mb = models.PositiveIntegerField(default=0)
    disk_gb = models.PositiveIntegerField(default=0)
    # The SSH key put on the machine: the key pair's name on the cloud and the
    # user's key it came from (kept as text: the user may delete the key later).
    key_name = models.CharField(max_length=255, blank=True, default="")
    key_fingerprint = models.CharField(max_length=100, blank=True, default="")
    internal_ip = models.GenericIPAddressField(null=True, blank=True)
    external_ip = models.GenericIPAddressField(null=True, blank=True)
    # Asked for at create time: an external IP, and the web console through Atrium.
    want_external_ip = models.BooleanField(default=False)
    console_enabled = models.BooleanField(default=True)
    # Whether the machine has a firewall of its own that Atrium edits (its rules are
    # FirewallRule rows): None until read from the cloud after the build, False for
    # machines the cloud gave none (made before Atrium gave each machine one).
    has_firewall = models.BooleanField(null=True, blank=True, default=None)
    # Its firewall is the tenancy's shared one (the default rules; one security group for all such
    # machines) until its rules first change: then it gets a security group of its own.
    firewall_shared = models.BooleanField(default=False)

    class Meta(CloudResource.Meta):
        ordering = ["name", "pk"]
        indexes = [models.Index(fields=["tenancy", "name"])]

    def __str__(self) -> str:
        return self.name

    @property
    def busy(self) -> bool:
        return bool(self.task) or MachineStatus(self.status).is_transitional

    @property
    def settling(self) -> bool:
        return MachineStatus(self.status).is_transitional


class ExternalIp(CloudResource):
    address = models.GenericIPAddressField(null=True, blank=True)
    machine = models.ForeignKey(Machine, null=True, blank=True, on_delete=models.SET_NULL, related_name="ips")
    # Allocated for a machine when it was created: released when it is deleted.
    with_machine = models.BooleanField(default=False)

    class Meta(CloudResource.Meta):
        ordering = ["address", "pk"]
        verbose_name = "external IP"

    def __str__(self) -> str:
        return self.address or "new external IP"


#: A volume's statuses while the cloud is changing it.
VOLUME_SETTLING = {VolumeStatus.CREATING, VolumeStatus.ATTACHING, VolumeStatus.DETACHING}


class Volume(CloudResource):
    STATUS_CHOICES = [(s.value, s.value.replace("_", " ").title()) for s in VolumeStatus]

    name = models.CharField(max_length=255)
    size_gb = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=STATUS_CHOICES, default=VolumeStatus.CREATING.value)
    machine = models.ForeignKey(Machine, null=True, blank=True, on_delete=models.SET_NULL, related_name="volumes")
    device = models.CharField(max_length=100, blank=True, default="")

    class Meta(CloudResource.Meta):
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def settling(self) -> bool:
        return self.status in VOLUME_SETTLING


#: Ports people know by name, for describing rules in words.
WELL_KNOWN_PORTS = {
    22: "SSH",
    80: "web",
    443: "secure web",
    3389: "remote desktop",
    5901: "VNC",
    8888: "Jupyter",
}
_ANYWHERE = {"0.0.0.0/0": "anywhere", "::/0": "anywhere (IPv6)"}


def firewall_rule_words(protocol: str, port_min: int | None, port_max: int | None, remote_cidr: str) -> str:
    """A firewall rule as a person reads it: "TCP port 22 (SSH) from anywhere",
    "ICMP (ping) from 192.0.2.0/24", "UDP ports 60000-61000 from 192.0.2.7"."""
    try:
        kind: FirewallProtocol | None = FirewallProtocol(protocol)
    except ValueError:
        kind = None
    if kind == FirewallProtocol.ICMP:
        what = "ICMP (ping)"
    elif kind is None or kind == FirewallProtocol.ANY:
        what = "All traffic"
    elif port_min is None:
        what = f"{kind.value.upper()}, every port"
    elif port_max is None or port_max == port_min:
        name = WELL_KNOWN_PORTS.get(port_min)
        what = f"{kind.value.upper()} port {port_min}" + (f" ({name})" if name else "")
    else:
        what = f"{kind.value.upper()} ports {port_min}-{port_max}"
    return f"{what} from {_remote_words(remote_cidr)}"


def _remote_words(cidr: str) -> str:
    if cidr in _ANYWHERE:
        return _ANYWHERE[cidr]
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return cidr
    return str(network.network_address) if network.num_addresses == 1 else str(network)


class FirewallRule(CloudResource):
    """One way in through a machine's own firewall: traffic of `protocol` (to ports
    `port_min`..`port_max` for TCP and UDP) from addresses in `remote_cidr`.
    `external`: added outside Atrium (found by the sync); `fault`: why the cloud
    refused to add it (the row stays so the person sees why, until removed)."""

    PROTOCOL_CHOICES = [
        (FirewallProtocol.TCP.value, "TCP"),
        (FirewallProtocol.UDP.value, "UDP"),
        (FirewallProtocol.ICMP.value, "ICMP (ping)"),
        (FirewallProtocol.ANY.value, "Any protocol"),
    ]

    machine = models.ForeignKey(Machine, on_delete=models.CASCADE, related_name="firewall_rules")
    protocol = models.CharField(max_length=10, choices=PROTOCOL_CHOICES)
    port_min = models.PositiveIntegerField(null=True, blank=True)
    port_max = models.PositiveIntegerField(null=True, blank=True)
    remote_cidr = models.CharField(max_length=64, default="0.0.0.0/0")
    fault = models.TextField(blank=True, default="")

    class Meta(CloudResource.Meta):
        ordering = ["pk"]  # the first rules first, then in the order they were added

    def __str__(self) -> str:
        return self.description

    @property
    def description(self) -> str:
        return firewall_rule_words(self.protocol, self.port_min, self.port_max, self.remote_cidr)

    @property
    def key(self) -> tuple[str, int | None, int | None, str]:
        """What makes two rules the same."""
        return (self.protocol, self.port_min, self.port_max, self.remote_cidr)
