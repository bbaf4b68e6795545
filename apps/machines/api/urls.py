"""Under /api/v1/tenancies/{tenancy_id}/. Written out (not a router) so both ids
are `<int:…>`: the schema types them as integers and anything else is a 404."""

from django.urls import path

from apps.core.resources.api import T
from apps.core.resources.api import tenancy_routes as routes

from . import views

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
