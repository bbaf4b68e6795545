"""/api/v1/platform-types/: the types offered to the signed-in person's tenancies."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets

from apps.accounts.selectors import signed_in_user
from apps.core.resources.api import schema_only

from .. import selectors
from ..filtersets import PlatformTypeFilterSet
from ..models import PlatformType
from .serializers import PlatformTypeSerializer


@extend_schema_view(
    list=extend_schema(summary="Platform types your tenancies may use"),
    retrieve=extend_schema(summary="A platform type, by name"),
)
class PlatformTypeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[PlatformType]):
    """The catalogue of platform types (terraform/<type>/platform.yaml): those offered to
    at least one of your tenancies; `?tenancy=` for one tenancy's. Another's types: 404."""

    serializer_class = PlatformTypeSerializer
    queryset = PlatformType.objects.none()  # the model, for the schema
    filterset_class = PlatformTypeFilterSet
    lookup_field = "name"
    lookup_url_kwarg = "type_name"
    lookup_value_converter = "slug"

    def get_queryset(self) -> QuerySet[PlatformType]:
        if schema_only(self):
            return PlatformType.objects.none()
        return selectors.platform_type_list(user=signed_in_user(self.request))

    def get_object(self) -> Any:
        return selectors.platform_type_get(user=signed_in_user(self.request), name=self.kwargs["type_name"])
