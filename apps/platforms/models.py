"""Platform types: what `terraform/<type>/platform.yaml` declares, as last loaded
(apps/platforms/loader.py), and which tenancies may use each one (chosen by operators)."""

from typing import Any

from django.db import models

from apps.tenancies.models import Tenancy


class PlatformType(models.Model):
    """One folder of ATRIUM_PLATFORM_TYPES_DIR. Rows are written only by the loader
    (`platform_types_sync`); operators choose in the admin who may use each type."""

    name = models.SlugField(max_length=63, unique=True)
    label = models.CharField(max_length=100)
    version = models.CharField(max_length=20, blank=True)
    description = models.TextField(blank=True, help_text="Markdown.")
    #: The logo as a `data:` URI (empty: none), so pages need no route to the folder.
    logo = models.TextField(blank=True)
    #: The whole platform.yaml as loaded (defaults not filled in).
    spec = models.JSONField(default=dict, blank=True)
    #: False when the folder's platform.yaml was refused (or is gone); `error` says why.
    valid = models.BooleanField(default=True)
    error = models.TextField(blank=True)
    #: A digest of the files the row was loaded from: the loader reloads when it differs.
    source_digest = models.CharField(max_length=64, blank=True)
    loaded_at = models.DateTimeField(auto_now=True)
    available_to_all = models.BooleanField(
        default=False, help_text="Every tenancy may use this type (else only those chosen below)."
    )
    tenancies = models.ManyToManyField(
        Tenancy, blank=True, related_name="platform_types", help_text="Tenancies that may use this type."
    )

    class Meta:
        ordering = ["label", "name"]

    def __str__(self) -> str:
        return self.label or self.name

    @property
    def parameters(self) -> list[dict[str, Any]]:
        return list(self.spec.get("parameters", []))

    @property
    def services(self) -> list[dict[str, Any]]:
        return list(self.spec.get("services", []))

    @property
    def changelog(self) -> list[dict[str, Any]]:
        return list(self.spec.get("changelog", []))

    @property
    def ssh_key(self) -> bool:
        return bool(self.spec.get("ssh_key", False))

    @property
    def usage(self) -> str:
        return str(self.spec.get("usage", ""))
