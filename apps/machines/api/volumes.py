"""/api/v1/tenancies/{tenancy_id}/volumes/: a tenancy's block storage volumes."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import mixins
from rest_framework.request import Request
from rest_framework.response import Response

from apps.jobs.models import Job

from .. import selectors, services
from ..models import Machine, Volume
from .machines import ACCEPTED, AttachActions, attachable_schema
from .serializers import VolumeAcceptedSerializer, VolumeCreateSerializer, VolumeSerializer


@extend_schema(tags=["volumes"])
@attachable_schema(
    "a volume",
    "volumes",
    attach_409="unless the volume is available and the machine active or stopped",
    detach_409="unless in use",
)
class VolumeViewSet(AttachActions, mixins.ListModelMixin, mixins.RetrieveModelMixin):
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

    def attach_row(self, row: Volume, machine: Machine) -> Job:
        return services.volume_attach(volume=row, machine=machine, user=self.user)

    def detach_row(self, row: Volume) -> Job:
        return services.volume_detach(volume=row, user=self.user)
