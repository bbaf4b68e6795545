"""/api/v1/tenancies/{tenancy_id}/: machines (and their firewall rules), external IPs and volumes,
one module per resource on apps.core.resources.api.TenancyViewSet (the catalogue, quotas and
networks a create form needs: apps.catalogue.api).

Every read goes through apps.machines.selectors (another tenancy's object is
404); every change through apps.machines.services, and answers 202 with the
job (Location: the job's URL). A create's 202 also names the new object
(`machine`, `external_ip` or `volume`: id and url), which is listed at once.
Lists are paginated like every list of the API (`?page=`, PAGE_SIZE).
"""

from .firewall import FirewallRuleViewSet
from .ips import ExternalIpViewSet
from .machines import MachineViewSet
from .volumes import VolumeViewSet

__all__ = ["ExternalIpViewSet", "FirewallRuleViewSet", "MachineViewSet", "VolumeViewSet"]
