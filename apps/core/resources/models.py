"""The row base of every resource Atrium keeps for a thing on a cloud."""

from django.conf import settings
from django.db import models

from apps.tenancies.models import Tenancy


class CloudResource(models.Model):
    """What every resource row has: its tenancy, the cloud's id, who asked and when, whether
    the sync found it made outside Atrium, what Atrium is doing to it now, when it was last
    seen. A subclass keeps the constraint (one row per cloud id in a tenancy, named
    `<model>_unique_cloud_id`) by deriving its Meta: `class Meta(CloudResource.Meta)`."""

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
        constraints = [
            models.UniqueConstraint(
                fields=["tenancy", "cloud_id"], condition=~models.Q(cloud_id=""), name="%(class)s_unique_cloud_id"
            )
        ]

    @property
    def settling(self) -> bool:
        """Whether the row's recorded state says the cloud is still changing it (a job that
        ended then leaves a follow-up job watching it). Rows with a status say when."""
        return False

    @property
    def status_label(self) -> str:
        """What a person reads: the task while Atrium works on it, else the cloud's status."""
        display = getattr(self, "get_status_display", None)
        return self.task or (display() if display else "")
