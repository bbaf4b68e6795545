"""/api/v1/tenancies/{tenancy_id}/: the catalogue (images, sizes), quotas and networks a
create form needs. The tenancy must be one of the user's (404 otherwise). Lists are
paginated like every list of the API (`?page=`, PAGE_SIZE)."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.models import User
from apps.clouds.registry import driver_for_tenancy
from apps.core.resources.api import InTenancy
from apps.core.rest import Ordering
from apps.tenancies.models import Tenancy

from .. import selectors
from ..quotas import quotas_current
from .serializers import ImageSerializer, NetworkSerializer, QuotaSerializer, SizeSerializer


class _TenancyListView(InTenancy, generics.ListAPIView[Any]):
    """A small list read for one tenancy (the URL's, `InTenancy`), paginated like every
    other list. What comes from the cloud is read as the person asking (per-user federation)."""

    filter_backends = [Ordering]  # no filters; a list in one order (an `ordering` is a 400)

    def items(self, tenancy: Tenancy, user: User) -> list[Any]:
        raise NotImplementedError

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        items = self.filter_queryset(self.items(self.tenancy(), self.user))  # type: ignore[arg-type]  # ?ordering: 400
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
            for q in quotas_current(tenancy=tenancy, user=user)
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
