from django.conf import settings
from django.db import models
from encrypted_fields.fields import EncryptedJSONField


class Cloud(models.Model):
    """A cloud Atrium drives: a driver, where to reach it, and how to log in.

    Operators set clouds up in the admin. `options` holds the driver's
    non-secret settings (region, interface, TLS verification, the local
    cloud's simulated build time...); `credentials` the secret ones
    (application credential id and secret...), encrypted at rest with a key
    derived from SECRET_KEY and ATRIUM_ENCRYPTION_SALT, never shown to a
    browser or written to a log. A tenancy may carry credentials of its own
    (its project's application credential), which win over the cloud's.
    """

    class Driver(models.TextChoices):
        LOCAL = "local", "Local (simulated)"
        OPENSTACK = "openstack", "OpenStack"

    name = models.CharField(max_length=100, unique=True)
    driver = models.CharField(max_length=20, choices=Driver.choices, default=Driver.LOCAL)
    endpoint = models.URLField(blank=True, help_text="Identity (Keystone) URL; empty for the local cloud.")
    options = models.JSONField(default=dict, blank=True, help_text="Driver settings that are not secret.")
    credentials = EncryptedJSONField(default=dict, blank=True, help_text="Secret driver settings, stored encrypted.")
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
    credentials = EncryptedJSONField(
        default=dict, blank=True, help_text="This project's own secret credentials, stored encrypted."
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

    class Source(models.TextChoices):
        MANUAL = "manual", "Added by hand"
        GROUPS = "groups", "From identity provider groups"

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    source = models.CharField(
        max_length=20,
        choices=Source.choices,
        default=Source.MANUAL,
        help_text="Memberships from groups are added and removed at each sign-in; manual ones are kept.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenancy__name", "user__username"]
        constraints = [models.UniqueConstraint(fields=["user", "tenancy"], name="membership_unique_user_tenancy")]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenancy} ({self.role})"
