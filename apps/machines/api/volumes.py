"""/api/v1/tenancies/{tenancy_id}/volumes/: a tenancy's block storage volumes."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from .. import selectors, services
from ..models import Volume
from .machines import AttachActions, attachable_schema
from .serializers import VolumeAcceptedSerializer, VolumeCreateSerializer, VolumeSerializer


@attachable_schema(
    "volumes",
    "a volume",
    "volumes",
    remove="Delete",
    attach_409="unless the volume is available and the machine active or stopped",
    detach_409="unless in use",
)
class VolumeViewSet(AttachActions):
    """Block storage volumes of one of your tenancies."""

    serializer_class = VolumeSerializer
    queryset = Volume.objects.none()
    rows = staticmethod(selectors.volume_list)
    attachable = services.VOLUMES
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
