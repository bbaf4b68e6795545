"""A tenancy's catalogue: the images, sizes and capabilities of its cloud, its network and
its quota limits, as last read.

Only a cache (it refills from the cloud): the sync refreshes it, and pages, forms and the
create request read it so they need no cloud call. Of the quotas it keeps the limits and
the use Atrium's own rows do not explain; Atrium's rows add their use as they change
(apps/catalogue/quotas.py)."""

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
    #: The project's network for new machines (`id`, `name`, `cidr`); empty until one is known.
    network = models.JSONField(default=dict, blank=True)
    #: The firewall the project's machines share while their rules are the defaults (`id`, `rules`:
    #: `dto.SharedFirewall`); empty until a create job has found or made it.
    firewall = models.JSONField(default=dict, blank=True)
    #: Each quota as last read: `resource`, `label`, `limit`, `units`, the cloud's `used` and,
    #: of that, what Atrium's rows took then (`atrium`). None: never read (read on first need).
    quotas = models.JSONField(null=True, blank=True, default=None)
    refreshed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Catalogue of {self.tenancy}"

    @property
    def capabilities(self) -> Capabilities:
        return capabilities_from_dict(self.capabilities_data)
