"""Machines, external IPs and volumes of a tenancy: what was asked for (by whom,
when) and, beside it, what the cloud was last seen to have.

Pages and the API read these rows, never the cloud. Jobs (apps/machines/jobs.py)
and the tenancy sync (`sync.py`) bring the observed fields up to date; rows the
sync finds on the cloud without a request behind them are marked `external`.
"""

from django.conf import settings
from django.db import models

from apps.clouds.dto import MachineStatus, VolumeStatus
from apps.tenancies.models import Tenancy


class CloudResource(models.Model):
    """What every machine, IP and volume row has."""

    tenancy = models.ForeignKey(Tenancy, on_delete=models.CASCADE, related_name="+")
    # The cloud's id; empty until the job that creates it has done so.
    cloud_id = models.CharField(max_length=255, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Found on the cloud by the sync, not created through Atrium.
    external = models.BooleanField(default=False)
    # What Atrium is doing to it now ("building", "stopping"…); empty when idle.
    task = models.CharField(max_length=40, blank=True, default="")
    observed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        abstract = True


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

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenancy", "cloud_id"], condition=~models.Q(cloud_id=""), name="machine_unique_cloud_id"
            )
        ]
        indexes = [models.Index(fields=["tenancy", "name"])]

    def __str__(self) -> str:
        return self.name

    @property
    def busy(self) -> bool:
        return bool(self.task) or MachineStatus(self.status).is_transitional

    @property
    def status_label(self) -> str:
        """What a person reads: the task while Atrium works on it, else the cloud's status."""
        return self.task or self.get_status_display()


class ExternalIp(CloudResource):
    address = models.GenericIPAddressField(null=True, blank=True)
    machine = models.ForeignKey(Machine, null=True, blank=True, on_delete=models.SET_NULL, related_name="ips")
    # Allocated for a machine when it was created: released when it is deleted.
    with_machine = models.BooleanField(default=False)

    class Meta:
        ordering = ["address", "pk"]
        verbose_name = "external IP"
        constraints = [
            models.UniqueConstraint(
                fields=["tenancy", "cloud_id"], condition=~models.Q(cloud_id=""), name="externalip_unique_cloud_id"
            )
        ]

    def __str__(self) -> str:
        return self.address or "new external IP"


class Volume(CloudResource):
    STATUS_CHOICES = [(s.value, s.value.replace("_", " ").title()) for s in VolumeStatus]

    name = models.CharField(max_length=255)
    size_gb = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=STATUS_CHOICES, default=VolumeStatus.CREATING.value)
    machine = models.ForeignKey(Machine, null=True, blank=True, on_delete=models.SET_NULL, related_name="volumes")
    device = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenancy", "cloud_id"], condition=~models.Q(cloud_id=""), name="volume_unique_cloud_id"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def status_label(self) -> str:
        return self.task or self.get_status_display()


class Catalogue(models.Model):
    """A tenancy's images, sizes and what its cloud can do, as last read from the
    cloud (by the sync, or on first need), so forms and lists need no cloud call."""

    tenancy = models.OneToOneField(Tenancy, on_delete=models.CASCADE, related_name="+")
    images = models.JSONField(default=list)
    sizes = models.JSONField(default=list)
    capabilities = models.JSONField(default=dict)
    refreshed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Catalogue of {self.tenancy}"
