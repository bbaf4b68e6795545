"""/api/v1/tenancies/{tenancy_id}/volumes/: a tenancy's block storage volumes."""

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.resources.api import TenancyViewSet

from .. import selectors, services
from ..models import Volume
from .machines import ACCEPTED, machine_in_body
from .serializers import AttachSerializer, VolumeAcceptedSerializer, VolumeCreateSerializer, VolumeSerializer


@extend_schema(tags=["volumes"])
@extend_schema_view(
    list=extend_schema(summary="List volumes"),
    retrieve=extend_schema(summary="Get a volume"),
)
class VolumeViewSet(TenancyViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Block storage volumes of one of your tenancies."""

    serializer_class = VolumeSerializer
    queryset = Volume.objects.none()
    rows = staticmethod(selectors.volume_list)
    not_found = "No such volume."
    ordering_fields = ["name", "size_gb", "created_at"]

    @extend_schema(
        summary="Create a volume",
        description="Answers 202 with the job that creates it and, in `volume`, the new volume's id and url. "
        "Over quota: 409.",
        request=VolumeCreateSerializer,
        responses={202: VolumeAcceptedSerializer},
        examples=[OpenApiExample("50 GB of scratch", value={"name": "scratch", "size_gb": 50}, request_only=True)],
    )
    def create(self, request: Request, tenancy_id: str) -> Response:
        tenancy = self.tenancy()
        body = VolumeCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        started = services.volume_create(tenancy=tenancy, user=self.user, **body.validated_data)
        return self.accepted(started, VolumeAcceptedSerializer)

    @extend_schema(summary="Delete a volume", responses=ACCEPTED, description="409 while attached or busy.")
    def destroy(self, request: Request, tenancy_id: str, pk: str) -> Response:
        return self.accepted(services.volume_delete(volume=self.get_object(), user=self.user))

    @extend_schema(
        summary="Attach a volume to a machine",
        request=AttachSerializer,
        responses=ACCEPTED,
        description="`machine_id` must be a machine of this tenancy (400 otherwise); 409 unless the volume is "
        "available and the machine active or stopped.",
        examples=[OpenApiExample("Attach to machine 42", value={"machine_id": 42}, request_only=True)],
    )
    @action(detail=True, methods=["post"])
    def attach(self, request: Request, tenancy_id: str, pk: str) -> Response:
        volume = self.get_object()
        machine = machine_in_body(self, request.data)
        return self.accepted(services.volume_attach(volume=volume, machine=machine, user=self.user))

    @extend_schema(summary="Detach a volume", request=None, responses=ACCEPTED, description="409 unless in use.")
    @action(detail=True, methods=["post"])
    def detach(self, request: Request, tenancy_id: str, pk: str) -> Response:
        return self.accepted(services.volume_detach(volume=self.get_object(), user=self.user))
