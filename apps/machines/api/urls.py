"""Under /api/v1/tenancies/{tenancy_id}/. Written out (not a router) so both ids
are `<int:…>`: the schema types them as integers and anything else is a 404."""

from typing import Any

from django.urls import URLPattern, path

from . import views

T = "tenancies/<int:tenancy_id>"


def routes(prefix: str, viewset: Any, basename: str, actions: list[str]) -> list[URLPattern]:
    """list/create, retrieve/destroy and the @action `actions` of a viewset, named as a router names them."""
    list_methods = {"get": "list"} | ({"post": "create"} if hasattr(viewset, "create") else {})
    detail_methods = {"get": "retrieve"} | ({"delete": "destroy"} if hasattr(viewset, "destroy") else {})
    return [
        path(f"{T}/{prefix}/", viewset.as_view(list_methods, basename=basename), name=f"{basename}-list"),
        path(
            f"{T}/{prefix}/<int:pk>/",
            viewset.as_view(detail_methods, basename=basename, detail=True),
            name=f"{basename}-detail",
        ),
        *(
            path(
                f"{T}/{prefix}/<int:pk>/{getattr(viewset, name).url_path}/",
                # The methods the @action declares, as a router maps them.
                viewset.as_view(dict(getattr(viewset, name).mapping), basename=basename, detail=True),
                name=f"{basename}-{getattr(viewset, name).url_name}",
            )
            for name in actions
        ),
    ]


urlpatterns = [
    *routes(
        "machines", views.MachineViewSet, "machine", ["start", "stop", "restart", "external_ip", "logs", "console"]
    ),
    path(
        f"{T}/machines/<int:machine_id>/firewall-rules/",
        views.FirewallRuleViewSet.as_view({"get": "list", "post": "create"}, basename="machine-firewall-rule"),
        name="machine-firewall-rule-list",
    ),
    path(
        f"{T}/machines/<int:machine_id>/firewall-rules/<int:pk>/",
        views.FirewallRuleViewSet.as_view(
            {"get": "retrieve", "delete": "destroy"}, basename="machine-firewall-rule", detail=True
        ),
        name="machine-firewall-rule-detail",
    ),
    *routes("external-ips", views.ExternalIpViewSet, "external-ip", ["attach", "detach"]),
    *routes("volumes", views.VolumeViewSet, "volume", ["attach", "detach"]),
]
