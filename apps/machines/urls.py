from django.urls import path

from . import views

app_name = "machines"

# Included under /tenancies/<tenancy_id>/ (the tenancy is always in the URL).
urlpatterns = [
    path("machines/", views.machine_list, name="list"),
    path("quotas/", views.tenancy_quotas, name="quotas"),
    path("machines/new/", views.machine_create, name="create"),
    path("machines/new/quotas/", views.machine_create_quotas, name="create-quotas"),
    path("machines/<int:machine_id>/", views.machine_detail, name="detail"),
    path("machines/<int:machine_id>/console-log/", views.machine_console_log, name="console-log"),
    path("machines/<int:machine_id>/console/", views.machine_console, name="console"),
    path("machines/<int:machine_id>/delete/", views.machine_delete, name="delete"),
    path("machines/<int:machine_id>/external-ip/", views.machine_ip_attach, name="ip-attach"),
    path("machines/<int:machine_id>/volumes/", views.machine_volume_attach, name="volume-attach"),
    path("machines/<int:machine_id>/firewall/", views.machine_firewall_add, name="firewall-add"),
    path(
        "machines/<int:machine_id>/firewall/<int:rule_id>/remove/",
        views.machine_firewall_remove,
        name="firewall-remove",
    ),
    path("machines/<int:machine_id>/<str:action>/", views.machine_action, name="action"),
    path("external-ips/", views.external_ip_list, name="ips"),
    path("external-ips/allocate/", views.external_ip_allocate, name="ip-allocate"),
    path("external-ips/<int:ip_id>/attach/", views.external_ip_attach, name="ip-attach-machine"),
    path("external-ips/<int:ip_id>/detach/", views.external_ip_detach, name="ip-detach"),
    path("external-ips/<int:ip_id>/release/", views.external_ip_release, name="ip-release"),
    path("volumes/", views.volume_list, name="volumes"),
    path("volumes/<int:volume_id>/attach/", views.volume_attach, name="volume-attach-machine"),
    path("volumes/<int:volume_id>/detach/", views.volume_detach, name="volume-detach"),
    path("volumes/<int:volume_id>/delete/", views.volume_delete, name="volume-delete"),
]
