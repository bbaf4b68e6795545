"""/api/v1/tenancies/{tenancy_id}/: machines (and their firewall rules), external IPs, volumes, and the
catalogue, quotas and networks a create form needs.

Every read goes through apps.machines.selectors (another tenancy's object is
404); every change through apps.machines.services, and answers 202 with the
job (Location: the job's URL). A create's 202 also names the new object
(`machine`, `external_ip` or `volume`: id and url), which is listed at once.
Lists are paginated like every list of the API (`?page=`, PAGE_SIZE).
"""

from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import generics, mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.models import User
from apps.accounts.selectors import signed_in_user
from apps.clouds.errors import Unsupported
from apps.clouds.registry import driver_for_tenancy
from apps.core.errors import Conflict, NotFound
from apps.core.resources.services import Started
from apps.core.rest import Ordering
from apps.jobs.api.responses import job_accepted
from apps.jobs.api.serializers import JobSerializer
from apps.tenancies.models import Tenancy
from apps.tenancies.selectors import tenancy_get_for_user

from .. import selectors, services
from ..models import ExternalIp, FirewallRule, Machine, Volume
from .filtersets import MachineApiFilterSet
from .serializers import (
    AttachSerializer,
    ConsoleLogResponseSerializer,
    ConsoleLogSerializer,
    ConsoleSerializer,
    ExternalIpAcceptedSerializer,
    ExternalIpSerializer,
    FirewallRuleAcceptedSerializer,
    FirewallRuleCreateSerializer,
    FirewallRuleSerializer,
    ImageSerializer,
    MachineAcceptedSerializer,
    MachineCreateSerializer,
    MachineDetailSerializer,
    MachineSerializer,
    NetworkSerializer,
    QuotaSerializer,
    SizeSerializer,
    VolumeAcceptedSerializer,
    VolumeCreateSerializer,
    VolumeSerializer,
)

_ACCEPTED = {202: JobSerializer}


def _created(request: Request, serializer: type[JobSerializer], started: Started[Any]) -> Response:
    """202 with the job that creates the row and the row's id and url."""
    response = job_accepted(request, started.job)
    response.data = serializer(started.job, context={"request": request, "created": started.row}).data
    return response


class _InTenancy(generics.GenericAPIView[Any]):
    """The tenancy in the URL (`<int:tenancy_id>`), and a machine named in the body."""

    @property
    def tenancy_id(self) -> int:
        return int(self.kwargs["tenancy_id"])

    def tenancy(self) -> Tenancy:
        return tenancy_get_for_user(user=self.request.user, tenancy_id=self.tenancy_id)

    def machine_in_body(self, data: Any) -> Machine:
        """The body's `machine_id`, a machine of this tenancy (400 otherwise: it is input, not the URL's object)."""
        body = AttachSerializer(data=data)
        body.is_valid(raise_exception=True)
        try:
            return selectors.machine_get(
                user=self.request.user, tenancy_id=self.tenancy_id, machine_id=body.validated_data["machine_id"]
            )
        except NotFound:
            raise serializers.ValidationError({"machine_id": ["Unknown machine."]}) from None


def _accepted_example(kind: str, label: str, target_type: str, target_id: int, name: str) -> dict[str, Any]:
    """A create's 202 body for the schema's examples."""
    return {
        "id": 1234,
        "url": "https://atrium.example.org/api/v1/jobs/1234/",
        "kind": kind,
        "kind_label": label,
        "tenancy": 3,
        "target": {"type": target_type, "id": str(target_id), "name": name},
        "state": "queued",
        "progress": 0,
        "stages": [],
        "attempts": 0,
        "max_attempts": 3,
        "cancel_requested": False,
        "result": None,
        "error": "",
        "requested_by": "physicist",
        "created_at": "2025-06-02T09:30:00Z",
        "started_at": None,
        "finished_at": None,
        "updated_at": "2025-06-02T09:30:00Z",
    }


def _fake(view: Any) -> bool:
    """drf-spectacular builds the schema with a fake view and no real user."""
    return bool(getattr(view, "swagger_fake_view", False))


# --- machines ------------------------------------------------------------------------------------


@extend_schema(tags=["machines"])
@extend_schema_view(
    list=extend_schema(
        summary="List machines",
        description="The tenancy's machines from Atrium's database (never the cloud), by name. "
        "Filters: `status`, `q` (name, image, size or address contains), `external`, `created_by` (user name).",
    ),
    retrieve=extend_schema(summary="Get a machine", responses=MachineDetailSerializer),
)
class MachineViewSet(_InTenancy, mixins.ListModelMixin, viewsets.GenericViewSet[Machine]):
    """Virtual machines of one of your tenancies."""

    serializer_class = MachineSerializer
    queryset = Machine.objects.none()  # for the schema; reads go through the selectors
    filterset_class = MachineApiFilterSet
    ordering_fields = ["name", "status", "created_at"]

    def get_queryset(self) -> QuerySet[Machine]:
        if _fake(self):
            return Machine.objects.none()
        _, machines = selectors.machine_list(user=self.request.user, tenancy_id=self.tenancy_id)
        return machines

    def get_object(self) -> Machine:
        return selectors.machine_get(
            user=self.request.user, tenancy_id=self.tenancy_id, machine_id=int(self.kwargs["pk"])
        )

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        machine = self.get_object()
        return Response(MachineDetailSerializer(machine, context=self.get_serializer_context()).data)

    @extend_schema(
        summary="Create a machine",
        description="Checks the name, image, size, SSH key and quotas, records the machine (listed at once as "
        '"building") and answers 202 with the job that builds it, the new machine\'s id and url in `machine`. '
        "Over quota: 409.",
        request=MachineCreateSerializer,
        responses={202: MachineAcceptedSerializer},
        examples=[
            OpenApiExample(
                "A small Ubuntu machine with an external IP",
                value={
                    "name": "analysis-1",
                    "image_id": "9a1c6f7e-ubuntu-24-04",
                    "size_id": "small",
                    "ssh_key_id": 3,
                    "external_ip": True,
                    "console": True,
                },
                request_only=True,
            ),
            OpenApiExample(
                "Building",
                value=_accepted_example("machines.create", "Create machine", "machines.machine", 42, "analysis-1")
                | {
                    "machine": {
                        "id": 42,
                        "url": "https://atrium.example.org/api/v1/tenancies/3/machines/42/",
                        "name": "analysis-1",
                    }
                },
                response_only=True,
                status_codes=["202"],
            ),
        ],
    )
    def create(self, request: Request, tenancy_id: str) -> Response:
        tenancy = self.tenancy()
        user = signed_in_user(request)
        body = MachineCreateSerializer(data=request.data, context={"user": user})
        body.is_valid(raise_exception=True)
        fields = dict(body.validated_data)
        started = services.machine_create(tenancy=tenancy, user=user, ssh_key=fields.pop("ssh_key_id"), **fields)
        return _created(request, MachineAcceptedSerializer, started)

    @extend_schema(summary="Delete a machine", responses=_ACCEPTED, description="409 while it is busy.")
    def destroy(self, request: Request, tenancy_id: str, pk: str) -> Response:
        return job_accepted(request, services.machine_delete(machine=self.get_object(), user=signed_in_user(request)))

    def _action(self, request: Request, name: str) -> Response:
        job = services.machine_action(machine=self.get_object(), user=signed_in_user(request), action=name)
        return job_accepted(request, job)

    @extend_schema(
        summary="Start a stopped machine", request=None, responses=_ACCEPTED, description="409 unless stopped."
    )
    @action(detail=True, methods=["post"])
    def start(self, request: Request, tenancy_id: str, pk: str) -> Response:
        return self._action(request, "start")

    @extend_schema(
        summary="Stop an active machine", request=None, responses=_ACCEPTED, description="409 unless active."
    )
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, tenancy_id: str, pk: str) -> Response:
        return self._action(request, "stop")

    @extend_schema(
        summary="Restart an active machine", request=None, responses=_ACCEPTED, description="409 unless active."
    )
    @action(detail=True, methods=["post"])
    def restart(self, request: Request, tenancy_id: str, pk: str) -> Response:
        return self._action(request, "restart")

    @extend_schema(
        summary="Give a machine a new external IP",
        request=None,
        responses=_ACCEPTED,
        description="Allocates an external IP and attaches it (it is released when the machine is deleted). "
        "409 unless the machine is active or stopped and has none; 409 over the external-IP quota; "
        "400 (`unsupported`) if the cloud has no external IPs. To attach an IP the tenancy already has, "
        "use `external-ips/{id}/attach/`.",
    )
    @action(detail=True, methods=["post"], url_path="external-ip")
    def external_ip(self, request: Request, tenancy_id: str, pk: str) -> Response:
        job = services.machine_ip_new(machine=self.get_object(), user=signed_in_user(request))
        return job_accepted(request, job)

    @extend_schema(
        summary="A machine's console log",
        description="The last `lines` lines of the machine's serial console, read from the cloud now. "
        "409 while the machine has no server on the cloud; 400 (`unsupported`) if the cloud keeps no console logs.",
        parameters=[ConsoleLogSerializer],
        responses=ConsoleLogResponseSerializer,
    )
    @action(detail=True, methods=["get"])
    def logs(self, request: Request, tenancy_id: str, pk: str) -> Response:
        machine = self.get_object()
        query = ConsoleLogSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        lines = query.validated_data["lines"]
        user = signed_in_user(request)
        if not selectors.capabilities_get(tenancy=machine.tenancy, user=user).get("console_log"):
            raise Unsupported(f"{machine.tenancy.cloud.name} keeps no console logs.")
        if not machine.cloud_id:
            raise Conflict(f"{machine.name} has no server on the cloud yet.")
        driver = driver_for_tenancy(machine.tenancy, user=user)  # as the person asking (per-user federation)
        text = driver.machine_console_log(machine_id=machine.cloud_id, lines=lines)
        return Response({"machine": machine.pk, "lines": lines, "log": text})

    @extend_schema(
        summary="Where to open a machine's web console",
        description="The console opens through Atrium, for members of the tenancy only: the cloud's noVNC "
        "console (Atrium checks membership, then hands over a fresh short-lived console address) or, on clouds "
        "without one, the live serial console log. 409 when the machine is not active or was created without "
        "a web console; 400 (`unsupported`) when the cloud has no console.",
        responses=ConsoleSerializer,
    )
    @action(detail=True, methods=["get"])
    def console(self, request: Request, tenancy_id: str, pk: str) -> Response:
        machine = self.get_object()
        kind = services.machine_console_kind(machine=machine, user=signed_in_user(request))
        url = request.build_absolute_uri(reverse("machines:console", args=[machine.tenancy_id, machine.pk]))
        return Response({"kind": kind.value, "url": url})


# --- a machine's firewall --------------------------------------------------------------------------


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
class FirewallRuleViewSet(
    _InTenancy, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[FirewallRule]
):
    """The inbound rules of a machine's own firewall."""

    serializer_class = FirewallRuleSerializer
    queryset = FirewallRule.objects.none()

    def machine(self) -> Machine:
        return selectors.machine_get(
            user=self.request.user, tenancy_id=self.tenancy_id, machine_id=int(self.kwargs["machine_id"])
        )

    def get_queryset(self) -> QuerySet[FirewallRule]:
        if _fake(self):
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
            OpenApiExample(
                "Adding",
                value=_accepted_example(
                    "machines.firewall_add",
                    "Add firewall rule",
                    "machines.firewallrule",
                    17,
                    "TCP port 8888 (Jupyter) from 192.0.2.0/24",
                )
                | {
                    "firewall_rule": {
                        "id": 17,
                        "url": "https://atrium.example.org/api/v1/tenancies/3/machines/42/firewall-rules/17/",
                        "description": "TCP port 8888 (Jupyter) from 192.0.2.0/24",
                    }
                },
                response_only=True,
                status_codes=["202"],
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
        started = services.firewall_rule_add(machine=machine, user=signed_in_user(request), **body.validated_data)
        return _created(request, FirewallRuleAcceptedSerializer, started)

    @extend_schema(
        summary="Remove a firewall rule",
        responses=_ACCEPTED,
        description="Answers 202 with the job that removes it (a rule the cloud refused is only dropped). "
        "409 while the rule is busy, or unless the machine is active or stopped.",
    )
    def destroy(self, request: Request, tenancy_id: str, machine_id: str, pk: str) -> Response:
        return job_accepted(
            request, services.firewall_rule_remove(rule=self.get_object(), user=signed_in_user(request))
        )


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


# --- external IPs ------------------------------------------------------------------------------------


@extend_schema(tags=["external-ips"])
@extend_schema_view(
    list=extend_schema(summary="List external IPs"),
    retrieve=extend_schema(summary="Get an external IP"),
)
class ExternalIpViewSet(
    _InTenancy, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[ExternalIp]
):
    """External (floating) IPs of one of your tenancies."""

    serializer_class = ExternalIpSerializer
    queryset = ExternalIp.objects.none()

    def get_queryset(self) -> QuerySet[ExternalIp]:
        if _fake(self):
            return ExternalIp.objects.none()
        _, ips = selectors.external_ip_list(user=self.request.user, tenancy_id=self.tenancy_id)
        return ips

    def get_object(self) -> ExternalIp:
        return selectors.external_ip_get(
            user=self.request.user, tenancy_id=self.tenancy_id, ip_id=int(self.kwargs["pk"])
        )

    @extend_schema(
        summary="Allocate an external IP",
        description="Answers 202 with the job that allocates it and, in `external_ip`, the new IP's id and url. "
        "Over quota: 409; a cloud without external IPs: 400.",
        request=None,
        responses={202: ExternalIpAcceptedSerializer},
        examples=[
            OpenApiExample(
                "Allocating",
                value=_accepted_example(
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
        started = services.external_ip_allocate(tenancy=self.tenancy(), user=signed_in_user(request))
        return _created(request, ExternalIpAcceptedSerializer, started)

    @extend_schema(summary="Release an external IP", responses=_ACCEPTED, description="409 while attached or busy.")
    def destroy(self, request: Request, tenancy_id: str, pk: str) -> Response:
        return job_accepted(request, services.external_ip_release(ip=self.get_object(), user=signed_in_user(request)))

    @extend_schema(
        summary="Attach an external IP to a machine",
        request=AttachSerializer,
        responses=_ACCEPTED,
        description="`machine_id` must be a machine of this tenancy (400 otherwise); 409 if the IP or the machine "
        "is busy, the IP is attached already or the machine has an external IP.",
        examples=[OpenApiExample("Attach to machine 42", value={"machine_id": 42}, request_only=True)],
    )
    @action(detail=True, methods=["post"])
    def attach(self, request: Request, tenancy_id: str, pk: str) -> Response:
        ip = self.get_object()
        machine = self.machine_in_body(request.data)
        return job_accepted(request, services.external_ip_attach(ip=ip, machine=machine, user=signed_in_user(request)))

    @extend_schema(
        summary="Detach an external IP", request=None, responses=_ACCEPTED, description="409 unless attached."
    )
    @action(detail=True, methods=["post"])
    def detach(self, request: Request, tenancy_id: str, pk: str) -> Response:
        return job_accepted(request, services.external_ip_detach(ip=self.get_object(), user=signed_in_user(request)))


# --- volumes -------------------------------------------------------------------------------------


@extend_schema(tags=["volumes"])
@extend_schema_view(
    list=extend_schema(summary="List volumes"),
    retrieve=extend_schema(summary="Get a volume"),
)
class VolumeViewSet(_InTenancy, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Volume]):
    """Block storage volumes of one of your tenancies."""

    serializer_class = VolumeSerializer
    queryset = Volume.objects.none()
    ordering_fields = ["name", "size_gb", "created_at"]

    def get_queryset(self) -> QuerySet[Volume]:
        if _fake(self):
            return Volume.objects.none()
        _, volumes = selectors.volume_list(user=self.request.user, tenancy_id=self.tenancy_id)
        return volumes

    def get_object(self) -> Volume:
        return selectors.volume_get(
            user=self.request.user, tenancy_id=self.tenancy_id, volume_id=int(self.kwargs["pk"])
        )

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
        started = services.volume_create(tenancy=tenancy, user=signed_in_user(request), **body.validated_data)
        return _created(request, VolumeAcceptedSerializer, started)

    @extend_schema(summary="Delete a volume", responses=_ACCEPTED, description="409 while attached or busy.")
    def destroy(self, request: Request, tenancy_id: str, pk: str) -> Response:
        return job_accepted(request, services.volume_delete(volume=self.get_object(), user=signed_in_user(request)))

    @extend_schema(
        summary="Attach a volume to a machine",
        request=AttachSerializer,
        responses=_ACCEPTED,
        description="`machine_id` must be a machine of this tenancy (400 otherwise); 409 unless the volume is "
        "available and the machine active or stopped.",
        examples=[OpenApiExample("Attach to machine 42", value={"machine_id": 42}, request_only=True)],
    )
    @action(detail=True, methods=["post"])
    def attach(self, request: Request, tenancy_id: str, pk: str) -> Response:
        volume = self.get_object()
        machine = self.machine_in_body(request.data)
        job = services.volume_attach(volume=volume, machine=machine, user=signed_in_user(request))
        return job_accepted(request, job)

    @extend_schema(summary="Detach a volume", request=None, responses=_ACCEPTED, description="409 unless in use.")
    @action(detail=True, methods=["post"])
    def detach(self, request: Request, tenancy_id: str, pk: str) -> Response:
        return job_accepted(request, services.volume_detach(volume=self.get_object(), user=signed_in_user(request)))
