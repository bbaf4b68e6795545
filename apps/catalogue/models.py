"""A tenancy's catalogue: the images, sizes and capabilities of its cloud, as last read.

Only a cache (it refills from the cloud): the sync refreshes it, and pages and forms
read it so they need no cloud call. Quotas are not cached; they change with every
request (apps/catalogue/quotas.py)."""

from django.db import models

from apps.tenancies.models import Tenancy

from .capabilities import Capabilities, capabilities_from_dict


class Catalogue(models.Model):
    """A tenancy's images, sizes and what its cloud can do, as last read from the
    cloud (by the sync, or on first need), so forms and lists need no cloud call."""

    tenancy = models.OneToOneField(Tenancy, on_delete=models.CASCADE, related_name="+")
    images = models.JSONField(default=list)
    sizes = models.JSONField(default=list)
    #: Every field of the driver's `Capabilities` (`capabilities_to_dict`); read it as `capabilities`.
    capabilities_data = models.JSONField(default=dict)
    refreshed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Catalogue of {self.tenancy}"

    @property
    def capabilities(self) -> Capabilities:
        return capabilities_from_dict(self.capabilities_data)
