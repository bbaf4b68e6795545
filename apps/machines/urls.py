from django.urls import path

from . import views

app_name = "machines"

# Included under /tenancies/<tenancy_id>/ (the tenancy is always in the URL).
urlpatterns = [
    path("machines/", views.machine_list, name="machine-list"),
    path("quotas/", views.tenancy_quotas, name="tenancy-quotas"),
    path("machines/new/", views.machine_create, name="machine-create"),
    path("machines/new/quotas/", views.machine_create_quotas, name="machine-create-quotas"),
    path("machines/<int:machine_id>/", views.machine_detail, name="machine-detail"),
    path("machines/<int:machine_id>/console-log/", views.machine_console_log, name="machine-logs"),
    path("machines/<int:machine_id>/console/", views.machine_console, name="machine-console"),
    path("machines/<int:machine_id>/delete/", views.machine_delete, name="machine-delete"),
    path("machines/<int:machine_id>/external-ip/", views.machine_ip_attach, name="machine-external-ip"),
    path("machines/<int:machine_id>/volumes/", views.machine_volume_attach, name="machine-volume-attach"),
    path("machines/<int:machine_id>/firewall/", views.machine_firewall_add, name="machine-firewall-rule-add"),
    path(
        "machines/<int:machine_id>/firewall/<int:rule_id>/remove/",
        views.machine_firewall_remove,
        name="machine-firewall-rule-delete",
    ),
    path("machines/<int:machine_id>/<str:action>/", views.machine_action, name="machine-action"),
    path("external-ips/", views.external_ip_list, name="external-ip-list"),
    path("external-ips/allocate/", views.external_ip_allocate, name="external-ip-allocate"),
    path("external-ips/<int:ip_id>/attach/", views.external_ip_attach, name="external-ip-attach"),
    path("external-ips/<int:ip_id>/detach/", views.external_ip_detach, name="external-ip-detach"),
    path("external-ips/<int:ip_id>/release/", views.external_ip_release, name="external-ip-release"),
    path("volumes/", views.volume_list, name="volume-list"),
    path("volumes/<int:volume_id>/attach/", views.volume_attach, name="volume-attach"),
    path("volumes/<int:volume_id>/detach/", views.volume_detach, name="volume-detach"),
    path("volumes/<int:volume_id>/delete/", views.volume_delete, name="volume-delete"),
]
