"""/api/v1/tenancies/{tenancy_id}/external-ips/: a tenancy's external (floating) IPs."""

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.resources.api import TenancyViewSet, accepted_example

from .. import selectors, services
from ..models import ExternalIp
from .machines import ACCEPTED, machine_in_body
from .serializers import AttachSerializer, ExternalIpAcceptedSerializer, ExternalIpSerializer


@extend_schema(tags=["external-ips"])
@extend_schema_view(
    list=extend_schema(summary="List external IPs"),
    retrieve=extend_schema(summary="Get an external IP"),
)
class ExternalIpViewSet(TenancyViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """External (floating) IPs of one of your tenancies."""

    serializer_class = ExternalIpSerializer
    queryset = ExternalIp.objects.none()
    rows = staticmethod(selectors.external_ip_list)
    not_found = "No such external IP."

    @extend_schema(
        summary="Allocate an external IP",
        description="Answers 202 with the job that allocates it and, in `external_ip`, the new IP's id and url. "
        "Over quota: 409; a cloud without external IPs: 400.",
        request=None,
        responses={202: ExternalIpAcceptedSerializer},
        examples=[
            OpenApiExample(
                "Allocating",
                value=accepted_example(
                    "machines.ip_allocate", "Allocate external IP", "machines.externalip", 7, "new external IP"
                )
                | {
                    "external_ip": {
                        "id": 7,
                        "url": "https://atrium.example.org/api/v1/tenancies/3/external-ips/7/",
                        "address": None,
                    }
                },
                response_only=True,
                status_codes=["202"],
            )
        ],
    )
    def create(self, request: Request, tenancy_id: str) -> Response:
        return self.accepted(
            services.external_ip_allocate(tenancy=self.tenancy(), user=self.user), ExternalIpAcceptedSerializer
        )

    @extend_schema(summary="Release an external IP", responses=ACCEPTED, description="409 while attached or busy.")
    def destroy(self, request: Request, tenancy_id: str, pk: str) -> Response:
        return self.accepted(services.external_ip_release(ip=self.get_object(), user=self.user))

    @extend_schema(
        summary="Attach an external IP to a machine",
        request=AttachSerializer,
        responses=ACCEPTED,
        description="`machine_id` must be a machine of this tenancy (400 otherwise); 409 if the IP or the machine "
        "is busy, the IP is attached already or the machine has an external IP.",
        examples=[OpenApiExample("Attach to machine 42", value={"machine_id": 42}, request_only=True)],
    )
    @action(detail=True, methods=["post"])
    def attach(self, request: Request, tenancy_id: str, pk: str) -> Response:
        ip = self.get_object()
        machine = machine_in_body(self, request.data)
        return self.accepted(services.external_ip_attach(ip=ip, machine=machine, user=self.user))

    @extend_schema(
        summary="Detach an external IP", request=None, responses=ACCEPTED, description="409 unless attached."
    )
    @action(detail=True, methods=["post"])
    def detach(self, request: Request, tenancy_id: str, pk: str) -> Response:
        return self.accepted(services.external_ip_detach(ip=self.get_object(), user=self.user))
