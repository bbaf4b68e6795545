"""Pages of a tenancy's platform types: the catalogue (cards) and a type's page with its
parameters as a form, checked by the same function as the API (`platform_params_clean`)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from apps.accounts.selectors import signed_in_user
from apps.catalogue.selectors import catalogue_cached
from apps.clouds.errors import BadInput
from apps.tenancies.selectors import tenancy_get_for_user

from . import selectors
from .forms import PlatformParamsForm
from .params import ON_CLOUD, platform_params_clean, platform_params_shown, platform_quota_projection, platform_services

QUOTA_LABELS = {
    "machines": ("Machines", ""),
    "cpus": ("CPUs", ""),
    "ram_mb": ("RAM", "MB"),
    "volumes": ("Volumes", ""),
    "volume_gb": ("Volume storage", "GB"),
    "external_ips": ("External IPs", ""),
}


@login_required
def platform_type_list(request: HttpRequest, tenancy_id: int) -> HttpResponse:
    tenancy, types = selectors.platform_types_for_tenancy(user=signed_in_user(request), tenancy_id=tenancy_id)
    return render(request, "platforms/types.html", {"tenancy": tenancy, "types": types})


@login_required
@require_http_methods(["GET", "POST"])
def platform_type_detail(request: HttpRequest, tenancy_id: int, type_name: str) -> HttpResponse:
    """The type's description, parameters and services, and its form: a POST is checked
    (field errors shown on the form) and answered with what it would take of the quotas.
    Deploying comes with platforms themselves."""
    user = signed_in_user(request)
    tenancy = tenancy_get_for_user(user=user, tenancy_id=tenancy_id)
    ptype = selectors.platform_type_get(user=user, name=type_name, tenancy_id=tenancy.pk)
    needs_cloud = any(p["kind"] in ON_CLOUD for p in ptype.parameters)
    catalogue = catalogue_cached(tenancy=tenancy, user=user) if needs_cloud else None
    form = PlatformParamsForm(request.POST or None, ptype=ptype, catalogue=catalogue)
    context: dict[str, Any] = {"tenancy": tenancy, "ptype": ptype, "form": form}
    status = 200
    if request.method == "POST":
        try:
            values = platform_params_clean(ptype, form.values(), tenancy=tenancy)
        except BadInput as exc:
            form.errors_from(exc.fields)
            status = 400
        else:
            wanted = platform_quota_projection(ptype, values, tenancy=tenancy)
            context["checked"] = {
                "values": platform_params_shown(ptype, values),
                "services": platform_services(ptype, values),
                "quota": [(QUOTA_LABELS[k][0], n, QUOTA_LABELS[k][1]) for k, n in wanted.items() if n],
            }
    return render(request, "platforms/type_detail.html", context, status=status)
