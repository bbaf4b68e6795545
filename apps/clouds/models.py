"""The local (simulated) cloud's state. Only apps.clouds.local reads or writes it.

It lives in the database so it survives restarts and every web and worker
process sees the same cloud. Rows belong to a `Cloud` (several local clouds
can exist side by side) and, for project resources, to a `project_id` string,
as they would on a real cloud. Ids shown to the rest of Atrium are `uid`s.
"""

import uuid

from django.core.exceptions import ValidationError
from django.db import models

from apps.tenancies.models import Cloud


def _uid() -> str:
    return str(uuid.uuid4())


class CloudRow(models.Model):
    """Something the cloud lists under its own id: the `uid` Atrium knows it by; shown by its name."""

    uid = models.CharField(max_length=36, default=_uid, unique=True)
    name: models.CharField[str, str]

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name


class Hardware(CloudRow):
    """What a host has, or a size asks for."""

    name = models.CharField(max_length=100)
    cpus = models.PositiveIntegerField()
    ram_mb = models.PositiveIntegerField()
    disk_gb = models.PositiveIntegerField()
    gpus = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class ProjectResource(CloudRow):
    """A project's own resource: also the project's id on the cloud."""

    project_id = models.CharField(max_length=255)

    class Meta:
        abstract = True


class ProjectBuiltResource(ProjectResource):
    """A project resource listed in the order it was made (machines, volumes, clusters)."""

    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["created_at", "id"]


class LocalHost(Hardware):
    """A hypervisor. Reservable hosts form the lease pool (like Blazar's freepool)
    and take machines only through a lease."""

    cloud = models.ForeignKey(Cloud, on_delete=models.CASCADE, related_name="local_hosts")
    reservable = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["cloud", "name"], name="localhost_unique_name")]


class LocalImage(CloudRow):
    cloud = models.ForeignKey(Cloud, on_delete=models.CASCADE, related_name="local_images")
    name = models.CharField(max_length=255)
    os_distro = models.CharField(max_length=50, blank=True)
    os_version = models.CharField(max_length=50, blank=True)
    min_disk_gb = models.PositiveIntegerField(default=0)
    min_ram_mb = models.PositiveIntegerField(default=0)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    project_id = models.CharField(max_length=255, blank=True, help_text="Empty: public to every project.")

    class Meta:
        ordering = ["name"]


class LocalSize(Hardware):
    cloud = models.ForeignKey(Cloud, on_delete=models.CASCADE, related_name="local_sizes")
    description = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["cpus", "ram_mb", "name"]
        constraints = [models.UniqueConstraint(fields=["cloud", "name"], name="localsize_unique_name")]


class LocalNetwork(CloudRow):
    """The external network (project_id empty) or a project's own network."""

    cloud = models.ForeignKey(Cloud, on_delete=models.CASCADE, related_name="local_networks")
    name = models.CharField(max_length=100)
    project_id = models.CharField(max_length=255, blank=True)
    external = models.BooleanField(default=False)
    cidr = models.CharField(max_length=43)

    class Meta:
        ordering = ["name"]
        constraints = [
            # One network per project, however many first boots race to make it.
            models.UniqueConstraint(
                fields=["cloud", "project_id"], condition=models.Q(external=False), name="localnetwork_one_per_project"
            )
        ]


class LocalQuota(models.Model):
    """A project's limits; a missing row means the cloud's defaults (`DEFAULT_QUOTAS`)."""

    cloud = models.ForeignKey(Cloud, on_delete=models.CASCADE, related_name="local_quotas")
    project_id = models.CharField(max_length=255)
    machines = models.PositiveIntegerField(default=10)
    cpus = models.PositiveIntegerField(default=20)
    ram_mb = models.PositiveIntegerField(default=51200)
    external_ips = models.PositiveIntegerField(default=10)
    volumes = models.PositiveIntegerField(default=10)
    volume_gb = models.PositiveIntegerField(default=1000)
    #: Security groups, Neutron's default (the shared firewall counts one; a machine with its own, one more).
    firewalls = models.PositiveIntegerField(default=10)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cloud", "project_id"], name="localquota_unique_project")]

    def __str__(self) -> str:
        return f"quotas of {self.project_id}"


class LocalLease(ProjectResource):
    cloud = models.ForeignKey(Cloud, on_delete=models.CASCADE, related_name="local_leases")
    name = models.CharField(max_length=100)
    start = models.DateTimeField()
    end = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["start", "name"]


class LocalReservation(models.Model):
    class Kind(models.TextChoices):
        HOST = "host", "Whole hosts"
        INSTANCE = "instance", "Instances of a size"

    lease = models.ForeignKey(LocalLease, on_delete=models.CASCADE, related_name="reservations")
    uid = models.CharField(max_length=36, default=_uid, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    count = models.PositiveIntegerField()
    size = models.ForeignKey(LocalSize, on_delete=models.PROTECT, null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.count} {self.kind} in {self.lease}"


class LocalAllocation(models.Model):
    """Which hosts a reservation holds: whole hosts, or `instances` slots of its size."""

    reservation = models.ForeignKey(LocalReservation, on_delete=models.CASCADE, related_name="allocations")
    host = models.ForeignKey(LocalHost, on_delete=models.CASCADE, related_name="allocations")
    instances = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.reservation} on {self.host}"


class LocalMachine(ProjectBuiltResource):
    """A server. `status` is what it was last set to; when `settles_at` has
    passed it becomes `settles_to` (applied on the next read, by any process)."""

    cloud = models.ForeignKey(Cloud, on_delete=models.CASCADE, related_name="local_machines")
    name = models.CharField(max_length=255)
    image = models.ForeignKey(LocalImage, on_delete=models.PROTECT)
    size = models.ForeignKey(LocalSize, on_delete=models.PROTECT)
    network = models.ForeignKey(LocalNetwork, on_delete=models.PROTECT)
    host = models.ForeignKey(LocalHost, on_delete=models.PROTECT, null=True, blank=True, related_name="machines")
    lease = models.ForeignKey(LocalLease, on_delete=models.SET_NULL, null=True, blank=True, related_name="machines")
    internal_ip = models.GenericIPAddressField(protocol="IPv4")
    status = models.CharField(max_length=20)
    settles_at = models.DateTimeField(null=True, blank=True)
    settles_to = models.CharField(max_length=20, blank=True)
    fault = models.TextField(blank=True)
    key_name = models.CharField(max_length=255, blank=True)
    user_data = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    events = models.JSONField(default=list, blank=True, help_text="[timestamp, text] lines for the console log.")
    #: In the project's shared firewall (no rule rows: its rules are the defaults), until its rules change.
    firewall_shared = models.BooleanField(default=False)


class LocalFirewallRule(models.Model):
    """An inbound rule of a machine's own firewall (a security group on OpenStack)."""

    machine = models.ForeignKey(LocalMachine, on_delete=models.CASCADE, related_name="firewall_rules")
    uid = models.CharField(max_length=36, default=_uid, unique=True)
    protocol = models.CharField(max_length=10)
    port_min = models.PositiveIntegerField(null=True, blank=True)
    port_max = models.PositiveIntegerField(null=True, blank=True)
    remote_cidr = models.CharField(max_length=64)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.protocol} {self.port_min or ''}-{self.port_max or ''} from {self.remote_cidr}"


class LocalExternalIp(ProjectResource):
    cloud = models.ForeignKey(Cloud, on_delete=models.CASCADE, related_name="local_external_ips")
    address = models.GenericIPAddressField(protocol="IPv4")
    machine = models.ForeignKey(
        LocalMachine, on_delete=models.SET_NULL, null=True, blank=True, related_name="external_ips"
    )

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["cloud", "address"], name="localexternalip_unique_address")]

    def __str__(self) -> str:
        return self.address


class LocalVolume(ProjectBuiltResource):
    cloud = models.ForeignKey(Cloud, on_delete=models.CASCADE, related_name="local_volumes")
    name = models.CharField(max_length=255)
    size_gb = models.PositiveIntegerField()
    machine = models.ForeignKey(LocalMachine, on_delete=models.SET_NULL, null=True, blank=True, related_name="volumes")
    device = models.CharField(max_length=20, blank=True)


class LocalKeyPair(models.Model):
    cloud = models.ForeignKey(Cloud, on_delete=models.CASCADE, related_name="local_keypairs")
    project_id = models.CharField(max_length=255)
    name = models.CharField(max_length=255)
    public_key = models.TextField()
    fingerprint = models.CharField(max_length=100)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["cloud", "project_id", "name"], name="localkeypair_unique")]

    def __str__(self) -> str:
        return self.name


class LocalClusterTemplate(CloudRow):
    cloud = models.ForeignKey(Cloud, on_delete=models.CASCADE, related_name="local_cluster_templates")
    name = models.CharField(max_length=100)
    kubernetes_version = models.CharField(max_length=20)
    master_size = models.ForeignKey(LocalSize, on_delete=models.PROTECT, related_name="+")
    worker_size = models.ForeignKey(LocalSize, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-kubernetes_version", "name"]


class LocalCluster(ProjectBuiltResource):
    """A Kubernetes cluster; statuses settle like machines'. Its nodes count
    against the project's machine, CPU and RAM quotas, as Magnum's servers do."""

    cloud = models.ForeignKey(Cloud, on_delete=models.CASCADE, related_name="local_clusters")
    name = models.CharField(max_length=100)
    template = models.ForeignKey(LocalClusterTemplate, on_delete=models.PROTECT)
    kubernetes_version = models.CharField(max_length=20)
    master_size = models.ForeignKey(LocalSize, on_delete=models.PROTECT, related_name="+")
    worker_size = models.ForeignKey(LocalSize, on_delete=models.PROTECT, related_name="+")
    master_count = models.PositiveIntegerField(default=1)
    worker_count = models.PositiveIntegerField()
    api_address = models.GenericIPAddressField(protocol="IPv4")
    status = models.CharField(max_length=30)
    settles_at = models.DateTimeField(null=True, blank=True)
    settles_to = models.CharField(max_length=30, blank=True)
    status_reason = models.TextField(blank=True)


class LocalFault(models.Model):
    """A failure switched on for tests and demos: the next calls of `operation`
    (a driver method name, or "*" for any) fail as `kind`, `remaining` times
    (empty: until cleared)."""

    class Kind(models.TextChoices):
        ERROR = "error", "The cloud answers with an error"
        TIMEOUT = "timeout", "The cloud does not answer in time"
        UNREACHABLE = "unreachable", "The cloud cannot be reached"
        AUTHENTICATION = "authentication", "The cloud refuses the credentials"
        BUILD_FAILURE = "build_failure", "Machines/clusters end in ERROR instead of ACTIVE"

    cloud = models.ForeignKey(Cloud, on_delete=models.CASCADE, related_name="local_faults")
    project_id = models.CharField(max_length=255, blank=True, help_text="Empty: every project.")
    operation = models.CharField(max_length=50)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    message = models.CharField(max_length=255, blank=True)
    remaining = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} on {self.operation}"

    def clean(self) -> None:
        from .base import CloudDriver

        if self.operation != "*" and self.operation not in operation_names(CloudDriver):
            raise ValidationError({"operation": f"There is no driver operation {self.operation!r}."})


def operation_names(driver_class: type) -> set[str]:
    """The public operations of a driver class (what faults can name)."""
    return {name for name in dir(driver_class) if not name.startswith("_") and callable(getattr(driver_class, name))}
