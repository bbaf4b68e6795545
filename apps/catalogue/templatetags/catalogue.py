from django import template

from apps.catalogue.capabilities import Capabilities
from apps.catalogue.selectors import capabilities_cached
from apps.tenancies.models import Tenancy

register = template.Library()


@register.simple_tag
def tenancy_offers(tenancy: Tenancy) -> Capabilities | None:
    """What the tenancy's cloud offers, from the cached catalogue (no cloud call); None
    until the first read, so pages show everything rather than hide what may be there
    (`{% if offers.volumes is not False %}`)."""
    return capabilities_cached(tenancy=tenancy)
