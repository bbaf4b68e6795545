"""For every endpoint that starts work: answer 202 with the job and where to
follow it (Location: the job's API URL)."""

from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from apps.jobs.models import Job

from .serializers import JobSerializer


def job_accepted(request: Request, job: Job) -> Response:
    """202 Accepted with the job as the body and its URL in Location.

    Usage in a view: `return job_accepted(request, machine_start(...))`; document
    it with `@extend_schema(responses={202: JobSerializer})`.
    """
    location = reverse("api:job-detail", kwargs={"pk": job.pk}, request=request)
    body = JobSerializer(job, context={"request": request}).data
    return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": location})
