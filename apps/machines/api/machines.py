"""/api/v1/tenancies/{tenancy_id}/machines/: a tenancy's machines, their actions, console and logs."""

from typing import Any, ClassVar

from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.catalogue.selectors import capabilities_get
from apps.clouds.errors import Unsupported
from apps.clouds.registry import driver_for_tenancy
from apps.core.errors import Conflict, NotFound
from apps.core.resources.api import InTenancy, TenancyViewSet, created_example
from apps.jobs.api.serializers import JobSerializer

from .. import selectors, services
from ..models import Machine
from .filtersets import MachineApiFilterSet
from .serializers import (
    AttachSerializer,
    ConsoleLogResponseSerializer,
    ConsoleLogSerializer,
    ConsoleSerializer,
    MachineAcceptedSerializer,
    MachineCreateSerializer,
    MachineDetailSerializer,
    MachineSerializer,
)

ACCEPTED = {202: JobSerializer}


class AttachActions(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenancyViewSet):
    """A tenancy's rows that attach to a machine (external IPs, volumes): list, get, remove
    (`DELETE`), `attach/` (to the machine named in the body) and `detach/`, each starting the
    service `attachable` names for it (the list pages start the same ones); `attachable_schema`
    describes them."""

    attachable: ClassVar[services.Attachable]

    def destroy(self, request: Request, tenancy_id: str, pk: str) -> Response:
        return self.accepted(self.attachable.remove(self.get_object(), self.user))

    @extend_schema(
        request=AttachSerializer,
        responses=ACCEPTED,
        examples=[OpenApiExample("Attach to machine 42", value={"machine_id": 42}, request_only=True)],
    )
    @action(detail=True, methods=["post"])
    def attach(self, request: Request, tenancy_id: str, pk: str) -> Response:
        row = self.get_object()
        return self.accepted(self.attachable.attach(row, machine_in_body(self, request.data), self.user))

    @extend_schema(request=None, responses=ACCEPTED)
    @action(detail=True, methods=["post"])
    def detach(self, request: Request, tenancy_id: str, pk: str) -> Response:
        return self.accepted(self.attachable.detach(self.get_object(), self.user))


def attachable_schema(tag: str, one: str, many: str, *, remove: str, attach_409: str, detach_409: str) -> Any:
    """What describes an `AttachActions` viewset in the schema: its `tag`, list, get, remove
    (`remove`: "Delete"), attach and detach, `one` ("a volume") and `many` ("volumes") naming
    its rows; `*_409` say when attaching and detaching conflict."""
    described = extend_schema_view(
        list=extend_schema(summary=f"List {many}"),
        retrieve=extend_schema(summary=f"Get {one}"),
        destroy=extend_schema(summary=f"{remove} {one}", responses=ACCEPTED, description="409 while attached or busy."),
        attach=extend_schema(
            summary=f"Attach {one} to a machine",
            description=f"`machine_id` must be a machine of this tenancy (400 otherwise); 409 {attach_409}.",
        ),
        detach=extend_schema(summary=f"Detach {one}", description=f"409 {detach_409}."),
    )
    return lambda viewset: extend_schema(tags=[tag])(described(viewset))


def machine_in_body(view: InTenancy, data: Any) -> Machine:
    """The body's `machine_id`, a machine of the view's tenancy (400 otherwise: it is input, not the URL's object)."""
    body = AttachSerializer(data=data)
    body.is_valid(raise_exception=True)
    try:
        return selectors.machine_get(
            user=view.request.user, tenancy_id=view.tenancy_id, machine_id=body.validated_data["machine_id"]
        )
    except NotFound:
        raise serializers.ValidationError({"machine_id": ["Unknown machine."]}) from None


@extend_schema(tags=["machines"])
@extend_schema_view(
    list=extend_schema(
        summary="List machines",
        description="The tenancy's machines from Atrium's database (never the cloud), by name. "
        "Filters: `status`, `q` (name, image, size or address contains), `external`, `created_by` (user name).",
    ),
    retrieve=extend_schema(summary="Get a machine", responses=MachineDetailSerializer),
)
class MachineViewSet(TenancyViewSet, mixins.ListModelMixin):
    """Virtual machines of one of your tenancies."""

    serializer_class = MachineSerializer
    queryset = Machine.objects.none()  # for the schema; reads go through the selectors
    rows = staticmethod(selectors.machine_list)
    not_found = "No such machine."
    object_related = ("tenancy__cloud",)
    filterset_class = MachineApiFilterSet
    ordering_fields = ["name", "status", "created_at"]

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
            created_example(
                "Building",
                kind="machines.create",
                label="Create machine",
                target_type="machines.machine",
                name="analysis-1",
                field="machine",
                ref={
                    "id": 42,
                    "url": "https://atrium.example.org/api/v1/tenancies/3/machines/42/",
                    "name": "analysis-1",
                },
            ),
        ],
    )
    def create(self, request: Request, tenancy_id: str) -> Response:
        tenancy = self.tenancy()
        body = MachineCreateSerializer(data=request.data, context={"user": self.user})
        body.is_valid(raise_exception=True)
        fields = dict(body.validated_data)
        started = services.machine_create(tenancy=tenancy, user=self.user, ssh_key=fields.pop("ssh_key_id"), **fields)
        return self.accepted(started, MachineAcceptedSerializer)

    @extend_schema(summary="Delete a machine", responses=ACCEPTED, description="409 while it is busy.")
    def destroy(self, request: Request, tenancy_id: str, pk: str) -> Response:
        return self.accepted(services.machine_delete(machine=self.get_object(), user=self.user))

    def _action(self, request: Request, name: str) -> Response:
        return self.accepted(services.machine_action(machine=self.get_object(), user=self.user, action=name))

    @extend_schema(
        summary="Start a stopped machine", request=None, responses=ACCEPTED, description="409 unless stopped."
    )
    @action(detail=True, methods=["post"])
    def start(self, request: Request, tenancy_id: str, pk: str) -> Response:
        return self._action(request, "start")

    @extend_schema(summary="Stop an active machine", request=None, responses=ACCEPTED, description="409 unless active.")
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, tenancy_id: str, pk: str) -> Response:
        return self._action(request, "stop")

    @extend_schema(
        summary="Restart an active machine", request=None, responses=ACCEPTED, description="409 unless active."
    )
    @action(detail=True, methods=["post"])
    def restart(self, request: Request, tenancy_id: str, pk: str) -> Response:
        return self._action(request, "restart")

    @extend_schema(
        summary="Give a machine a new external IP",
        request=None,
        responses=ACCEPTED,
        description="Allocates an external IP and attaches it (it is released when the machine is deleted). "
        "409 unless the machine is active or stopped and has none; 409 over the external-IP quota; "
        "400 (`unsupported`) if the cloud has no external IPs. To attach an IP the tenancy already has, "
        "use `external-ips/{id}/attach/`.",
    )
    @action(detail=True, methods=["post"], url_path="external-ip")
    def external_ip(self, request: Request, tenancy_id: str, pk: str) -> Response:
        return self.accepted(services.machine_ip_new(machine=self.get_object(), user=self.user))

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
        user = self.user
        if not capabilities_get(tenancy=machine.tenancy, user=user).console_log:
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
        kind = services.machine_console_kind(machine=machine, user=self.user)
        url = request.build_absolute_uri(reverse("machines:machine-console", args=[machine.tenancy_id, machine.pk]))
        return Response({"kind": kind.value, "url": url})
