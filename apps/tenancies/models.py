from django.conf import settings
from django.db import models


class Cloud(models.Model):
    """A cloud Atrium drives: a driver and where to reach it.

    Operators set clouds up in the admin. Credentials (encrypted) and driver
    options arrive with the driver layer (apps/clouds).
    """

    class Driver(models.TextChoices):
        LOCAL = "local", "Local (simulated)"
        OPENSTACK = "openstack", "OpenStack"

    name = models.CharField(max_length=100, unique=True)
    driver = models.CharField(max_length=20, choices=Driver.choices, default=Driver.LOCAL)
    endpoint = models.URLField(blank=True, help_text="Identity (Keystone) URL; empty for the local cloud.")
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Tenancy(models.Model):
    """A group's project on a cloud: what its members share and are billed for."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    cloud = models.ForeignKey(Cloud, on_delete=models.PROTECT, related_name="tenancies")
    project_id = models.CharField(
        max_length=255, blank=True, help_text="The project (tenant) on the cloud this tenancy maps to."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "tenancies"
        constraints = [
            models.UniqueConstraint(
                fields=["cloud", "project_id"],
                condition=~models.Q(project_id=""),
                name="tenancy_unique_project_per_cloud",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's role in a tenancy. Members use it; managers also manage
    members and spend credits. Operators are staff, not members."""

    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        MANAGER = "manager", "Manager"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    tenancy = models.ForeignKey(Tenancy, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenancy__name", "user__username"]
        constraints = [models.UniqueConstraint(fields=["user", "tenancy"], name="membership_unique_user_tenancy")]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenancy} ({self.role})"
