"""/api/v1/tenancies/{tenancy_id}/: the catalogue, quotas and networks a create form needs; the
resources' viewsets live one module per resource (machines, firewall, ips, volumes) on
apps.core.resources.api.TenancyViewSet.

Every read goes through apps.machines.selectors (another tenancy's object is
404); every change through apps.machines.services, and answers 202 with the
job (Location: the job's URL). A create's 202 also names the new object
(`machine`, `external_ip` or `volume`: id and url), which is listed at once.
Lists are paginated like every list of the API (`?page=`, PAGE_SIZE).
"""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.models import User
from apps.accounts.selectors import signed_in_user
from apps.clouds.registry import driver_for_tenancy
from apps.core.resources.api import InTenancy as _InTenancy
from apps.core.rest import Ordering
from apps.tenancies.models import Tenancy

from .. import selectors, services
from .firewall import FirewallRuleViewSet
from .ips import ExternalIpViewSet
from .machines import MachineViewSet
from .serializers import ImageSerializer, NetworkSerializer, QuotaSerializer, SizeSerializer
from .volumes import VolumeViewSet

__all__ = [
    "ExternalIpViewSet",
    "FirewallRuleViewSet",
    "ImageListView",
    "MachineViewSet",
    "NetworkListView",
    "QuotaListView",
    "SizeListView",
    "VolumeViewSet",
]


# --- the catalogue, quotas and networks ----------------------------------------------------------


class _TenancyListView(_InTenancy, generics.ListAPIView[Any]):
    """A small list read for one tenancy, paginated like every other list. What comes
    from the cloud is read as the person asking (clouds with per-user federation)."""

    filter_backends = [Ordering]  # no filters; a list in one order (an `ordering` is a 400)

    def items(self, tenancy: Tenancy, user: User) -> list[Any]:
        raise NotImplementedError

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        items = self.filter_queryset(self.items(self.tenancy(), signed_in_user(request)))  # type: ignore[arg-type]  # ?ordering: 400
        page = self.paginate_queryset(items)  # a list pages too
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


@extend_schema(summary="Images machines can be made from")
class ImageListView(_TenancyListView):
    """The tenancy's images (Atrium's copy of the cloud's catalogue, refreshed by the sync), by name."""

    serializer_class = ImageSerializer

    def items(self, tenancy: Tenancy, user: User) -> list[Any]:
        return list(selectors.catalogue_get(tenancy=tenancy, user=user).images)


@extend_schema(summary="Sizes a machine can have")
class SizeListView(_TenancyListView):
    """The tenancy's machine sizes (CPUs, RAM, disk, GPUs), as its cloud offers them."""

    serializer_class = SizeSerializer

    def items(self, tenancy: Tenancy, user: User) -> list[Any]:
        return list(selectors.catalogue_get(tenancy=tenancy, user=user).sizes)


@extend_schema(summary="Quotas and their use")
class QuotaListView(_TenancyListView):
    """The tenancy's quotas on its cloud; `used` counts what Atrium has on its way too."""

    serializer_class = QuotaSerializer

    def items(self, tenancy: Tenancy, user: User) -> list[Any]:
        return [
            {
                "resource": q.resource,
                "label": q.label,
                "limit": q.limit,
                "used": q.used,
                "free": q.free,
                "units": q.units,
            }
            for q in services.quotas_current(tenancy=tenancy, user=user)
        ]


@extend_schema(summary="Networks")
class NetworkListView(_TenancyListView):
    """The networks the tenancy can use on its cloud (its own and the external ones), read from the cloud."""

    serializer_class = NetworkSerializer

    def items(self, tenancy: Tenancy, user: User) -> list[Any]:
        return [
            {"id": n.id, "name": n.name, "external": n.external, "cidr": n.cidr}
            for n in driver_for_tenancy(tenancy, user=user).networks()
        ]
