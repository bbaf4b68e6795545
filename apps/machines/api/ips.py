"""/api/v1/tenancies/{tenancy_id}/external-ips/: a tenancy's external (floating) IPs."""

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.resources.api import created_example

from .. import selectors, services
from ..models import ExternalIp
from .machines import AttachActions, attachable_schema
from .serializers import ExternalIpAcceptedSerializer, ExternalIpSerializer


@attachable_schema(
    "external-ips",
    "an external IP",
    "external IPs",
    remove="Release",
    attach_409="if the IP or the machine is busy, the IP is attached already or the machine has an external IP",
    detach_409="unless attached",
)
class ExternalIpViewSet(AttachActions):
    """External (floating) IPs of one of your tenancies."""

    serializer_class = ExternalIpSerializer
    queryset = ExternalIp.objects.none()
    rows = staticmethod(selectors.external_ip_list)
    attachable = services.EXTERNAL_IPS
    not_found = "No such external IP."

    @extend_schema(
        summary="Allocate an external IP",
        description="Answers 202 with the job that allocates it and, in `external_ip`, the new IP's id and url. "
        "Over quota: 409; a cloud without external IPs: 400.",
        request=None,
        responses={202: ExternalIpAcceptedSerializer},
        examples=[
            created_example(
                "Allocating",
                kind="machines.ip_allocate",
                label="Allocate external IP",
                target_type="machines.externalip",
                name="new external IP",
                field="external_ip",
                ref={"id": 7, "url": "https://atrium.example.org/api/v1/tenancies/3/external-ips/7/", "address": None},
            )
        ],
    )
    def create(self, request: Request, tenancy_id: str) -> Response:
        return self.accepted(
            services.external_ip_allocate(tenancy=self.tenancy(), user=self.user), ExternalIpAcceptedSerializer
        )
