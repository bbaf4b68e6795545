from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from encrypted_fields.fields import EncryptedTextField
from knox.models import AbstractAuthToken


class User(AbstractUser):  # type: ignore[django-manager-missing]  # knox's untyped token relation
    """A person who signs in to Atrium.

    A federated user is keyed by the OpenID Connect issuer and subject (`sub`),
    never by e-mail: names and e-mail addresses change, `sub` does not. Local
    users (embedded mode, break-glass operators) have neither.
    """

    oidc_issuer = models.CharField(max_length=255, blank=True)
    oidc_subject = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["username"]
        constraints = [
            models.UniqueConstraint(
                fields=["oidc_issuer", "oidc_subject"],
                condition=~models.Q(oidc_subject=""),
                name="user_unique_oidc_identity",
            )
        ]

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username

    @property
    def is_federated(self) -> bool:
        return bool(self.oidc_subject)


class GroupMapping(models.Model):
    """A value of the identity provider's groups claim that grants a role in a
    tenancy. Applied at every sign-in: memberships from mappings are added and
    removed to match the groups in the token."""

    group = models.CharField(max_length=255, help_text="A value of the groups claim, exactly as the provider sends it.")
    tenancy = models.ForeignKey("tenancies.Tenancy", on_delete=models.CASCADE, related_name="group_mappings")
    role = models.CharField(max_length=20, choices=[("member", "Member"), ("manager", "Manager")], default="member")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["group", "tenancy__name"]
        constraints = [models.UniqueConstraint(fields=["group", "tenancy"], name="groupmapping_unique_group_tenancy")]

    def __str__(self) -> str:
        return f"{self.group} → {self.tenancy} ({self.role})"


class ApiToken(AbstractAuthToken):  # type: ignore[misc]  # django-rest-knox ships no types
    """A personal API token (`Authorization: Token <key>`).

    Stored hashed by django-rest-knox (only `token_key`, the first characters,
    is kept in clear to find it); the full key is shown once, at creation.
    Revoking deletes it; an expired token is deleted when next presented.
    """

    name = models.CharField(max_length=100)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.token_key}…) of {self.user}"


class SshPublicKey(models.Model):
    """A user's SSH public key, put on the machines they create."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ssh_keys")
    name = models.CharField(max_length=100)
    public_key = models.TextField()
    key_type = models.CharField(max_length=40)
    bits = models.PositiveIntegerField()
    fingerprint = models.CharField(max_length=100, help_text="SHA256 fingerprint, as `ssh-keygen -l` prints it.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "SSH public key"
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="sshkey_unique_name_per_user"),
            models.UniqueConstraint(fields=["user", "fingerprint"], name="sshkey_unique_key_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.fingerprint})"


class OidcToken(models.Model):
    """The identity provider's access token (and refresh token, when it gave
    one) of a federated user, kept so that jobs running later in a worker can
    act for them on clouds set up for per-user federation (the token is
    exchanged for a Keystone token scoped to the tenancy's project).

    Both tokens are encrypted at rest (key from SECRET_KEY and
    ATRIUM_ENCRYPTION_SALT), never logged, shown, or sent anywhere but to the
    provider (refresh) and the cloud's Keystone (exchange). One row per user:
    the latest sign-in (or a later-expiring API bearer token) replaces it.
    """

    class Source(models.TextChoices):
        SIGN_IN = "sign-in", "Browser sign-in"
        REFRESH = "refresh", "Renewed with the refresh token"
        BEARER = "bearer", "API bearer token"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_token")
    access_token = EncryptedTextField()
    expires_at = models.DateTimeField(help_text="When the access token stops being accepted.")
    # null, not "": the encrypted field stores an empty value as NULL.
    refresh_token = EncryptedTextField(null=True, blank=True, default=None)
    source = models.CharField(max_length=20, choices=Source.choices)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "OIDC token"

    def __str__(self) -> str:
        return f"OIDC token of {self.user} (until {self.expires_at:%Y-%m-%d %H:%M})"
