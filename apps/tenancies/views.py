from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from apps.core.errors import NotFound
from apps.jobs.selectors import job_list_for_tenancy

from .selectors import membership_list, tenancy_get_for_user


@login_required
def tenancy_detail(request: HttpRequest, tenancy_id: int) -> HttpResponse:
    try:
        tenancy = tenancy_get_for_user(user=request.user, tenancy_id=tenancy_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    _, jobs = job_list_for_tenancy(user=request.user, tenancy_id=tenancy.pk)
    return render(
        request,
        "tenancies/detail.html",
        {"tenancy": tenancy, "memberships": membership_list(tenancy=tenancy), "jobs": list(jobs[:5])},
    )
