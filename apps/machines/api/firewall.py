"""/api/v1/tenancies/{tenancy_id}/machines/{machine_id}/firewall-rules/: the inbound rules of a
machine's own firewall."""

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.resources.api import TenancyViewSet, created_example, schema_only

from .. import selectors, services
from ..models import FirewallRule, Machine
from .machines import ACCEPTED
from .serializers import FirewallRuleAcceptedSerializer, FirewallRuleCreateSerializer, FirewallRuleSerializer


@extend_schema(tags=["machines"])
@extend_schema_view(
    list=extend_schema(
        summary="List a machine's firewall rules",
        description="What may reach the machine (everything else is refused; everything may leave), from Atrium's "
        "database, oldest first: the first rules (SSH and ping from anywhere), then those added. A rule being "
        "added or removed has its `task`; one the cloud refused has its `fault`. Empty for machines without a "
        "firewall of their own (the machine's `firewall` is false).",
    ),
    retrieve=extend_schema(summary="Get a firewall rule"),
)
class FirewallRuleViewSet(TenancyViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """The inbound rules of a machine's own firewall."""

    serializer_class = FirewallRuleSerializer
    queryset = FirewallRule.objects.none()

    def machine(self) -> Machine:
        return selectors.machine_get(
            user=self.request.user, tenancy_id=self.tenancy_id, machine_id=int(self.kwargs["machine_id"])
        )

    def get_queryset(self) -> QuerySet[FirewallRule]:
        if schema_only(self):
            return FirewallRule.objects.none()
        _, rules = selectors.firewall_rule_list(
            user=self.request.user, tenancy_id=self.tenancy_id, machine_id=int(self.kwargs["machine_id"])
        )
        return rules

    def get_object(self) -> FirewallRule:
        return selectors.firewall_rule_get(
            user=self.request.user,
            tenancy_id=self.tenancy_id,
            machine_id=int(self.kwargs["machine_id"]),
            rule_id=int(self.kwargs["pk"]),
        )

    @extend_schema(
        summary="Open a machine's firewall",
        description="Checks the rule (ports only for TCP and UDP, 1 to 65535, `port_max` not below `port_min`; "
        "`remote_cidr` an address or network, anywhere when omitted; not a rule the machine has: 400 with "
        '`fields`), records it (listed at once, as "adding") and answers 202 with the job that adds it and, in '
        "`firewall_rule`, the new rule's id and url. 409 unless the machine is active or stopped and has a "
        "firewall of its own; 400 (`unsupported`) where the cloud gives machines none.",
        request=FirewallRuleCreateSerializer,
        responses={202: FirewallRuleAcceptedSerializer},
        examples=[
            OpenApiExample(
                "Jupyter from the institute's network",
                value={"protocol": "tcp", "port_min": 8888, "remote_cidr": "192.0.2.0/24"},
                request_only=True,
            ),
            OpenApiExample(
                "Web (HTTP and HTTPS need two rules: 80 and 443)",
                value={"protocol": "tcp", "port_min": 443},
                request_only=True,
            ),
            OpenApiExample(
                "A UDP range from one address",
                value={"protocol": "udp", "port_min": 60000, "port_max": 61000, "remote_cidr": "198.51.100.7"},
                request_only=True,
            ),
            created_example(
                "Adding",
                kind="machines.firewall_add",
                label="Add firewall rule",
                target_type="machines.firewallrule",
                name="TCP port 8888 (Jupyter) from 192.0.2.0/24",
                field="firewall_rule",
                ref={
                    "id": 17,
                    "url": "https://atrium.example.org/api/v1/tenancies/3/machines/42/firewall-rules/17/",
                    "description": "TCP port 8888 (Jupyter) from 192.0.2.0/24",
                },
            ),
            OpenApiExample(
                "A port with ICMP",
                value={
                    "error": {
                        "status": 400,
                        "code": "bad_input",
                        "message": "That firewall rule is not valid.",
                        "fields": {"port_min": ["ICMP rules have no ports."]},
                    }
                },
                response_only=True,
                status_codes=["400"],
            ),
        ],
    )
    def create(self, request: Request, tenancy_id: str, machine_id: str) -> Response:
        machine = self.machine()  # another tenancy's machine: 404 whatever the body says
        body = FirewallRuleCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        started = services.firewall_rule_add(machine=machine, user=self.user, **body.validated_data)
        return self.accepted(started, FirewallRuleAcceptedSerializer)

    @extend_schema(
        summary="Remove a firewall rule",
        responses=ACCEPTED,
        description="Answers 202 with the job that removes it (a rule the cloud refused is only dropped). "
        "409 while the rule is busy, or unless the machine is active or stopped.",
    )
    def destroy(self, request: Request, tenancy_id: str, machine_id: str, pk: str) -> Response:
        return self.accepted(services.firewall_rule_remove(rule=self.get_object(), user=self.user))
