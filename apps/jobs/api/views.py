from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.models import User
from apps.core.rest import whole_number
from apps.jobs.filtersets import JobFilterSet
from apps.jobs.models import Job
from apps.jobs.registry import kind_names
from apps.jobs.selectors import job_get_for_user, job_list_for_tenancy
from apps.jobs.services import job_cancel, tenancy_sync_start
from apps.tenancies.selectors import tenancy_get_for_user

from .responses import job_accepted
from .serializers import JobDetailSerializer, JobSerializer


def _user(request: Request) -> User:
    assert isinstance(request.user, User)  # noqa: S101 - IsAuthenticated ran first
    return request.user


class JobViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet[Job]):
    """A job of one of your tenancies: state, stages, progress and log. Others answer 404."""

    serializer_class = JobDetailSerializer
    # For the schema only (the id's type); every read goes through get_object's selector.
    queryset = Job.objects.none()

    def get_object(self) -> Job:
        return job_get_for_user(user=self.request.user, job_id=int(self.kwargs["pk"]))

    def get_serializer_context(self) -> dict[str, object]:
        context = dict(super().get_serializer_context())
        context["log_after"] = whole_number(self.request.query_params.get("log_after", "0"), "log_after", 0)
        return context

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "log_after", {"type": "integer", "minimum": 0}, description="Only log lines after this line id."
            )
        ]
    )
    def retrieve(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        request=None,
        responses={200: JobSerializer, 202: JobSerializer},
        description="Cancel the job: 200 when it is cancelled at once (it was queued), 202 when a running "
        "job has been asked to stop (it ends at its next safe point; follow the job). 409 if it has ended.",
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        job = job_cancel(job=self.get_object(), user=_user(request))
        code = status.HTTP_200_OK if job.state == Job.State.CANCELLED else status.HTTP_202_ACCEPTED
        return Response(JobSerializer(job, context={"request": request}).data, status=code)


@extend_schema_view(
    get=extend_schema(
        # The filter's choices are read when asked (kinds register as apps load); the schema lists them.
        parameters=[OpenApiParameter("kind", OpenApiTypes.STR, enum=kind_names(), description="A job kind.")]
    )
)
class TenancyJobListView(generics.ListAPIView[Job]):
    """The jobs of one of your tenancies, newest first; filter with `state` and `kind`."""

    serializer_class = JobSerializer
    filterset_class = JobFilterSet
    ordering_fields = ["created_at"]

    def get_queryset(self) -> QuerySet[Job]:
        if getattr(self, "swagger_fake_view", False):
            return Job.objects.none()
        _, jobs = job_list_for_tenancy(user=self.request.user, tenancy_id=int(self.kwargs["tenancy_id"]))
        return jobs.prefetch_related("stages")


class TenancySyncView(generics.GenericAPIView[Job]):
    """Refresh the tenancy's observed state from its cloud now. 409 while another job holds the tenancy."""

    serializer_class = JobSerializer

    @extend_schema(request=None, responses={202: JobSerializer}, operation_id="tenancies_sync_create")
    def post(self, request: Request, tenancy_id: int) -> Response:
        tenancy = tenancy_get_for_user(user=request.user, tenancy_id=tenancy_id)
        return job_accepted(request, tenancy_sync_start(tenancy=tenancy, requested_by=_user(request)))
