"""The local cloud in the admin: operators (and demos) shape its hardware,
catalogue and quotas, watch its machines, and switch faults on and off."""

from typing import TypeVar

from django.contrib import admin
from django.db.models import Model

from .models import (
    LocalCluster,
    LocalClusterTemplate,
    LocalFault,
    LocalHost,
    LocalImage,
    LocalLease,
    LocalMachine,
    LocalNetwork,
    LocalQuota,
    LocalSize,
)

M = TypeVar("M", bound=Model)


class ReadOnlyAdmin(admin.ModelAdmin[M]):
    """Rows that change only through the driver, so their transitions stay consistent."""

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(LocalHost)
class LocalHostAdmin(admin.ModelAdmin[LocalHost]):
    list_display = ["name", "cloud", "cpus", "ram_mb", "disk_gb", "gpus", "reservable"]
    list_filter = ["cloud", "reservable"]


@admin.register(LocalImage)
class LocalImageAdmin(admin.ModelAdmin[LocalImage]):
    list_display = ["name", "cloud", "os_distro", "os_version", "min_disk_gb", "min_ram_mb", "project_id"]
    list_filter = ["cloud", "os_distro"]
    readonly_fields = ["uid"]


@admin.register(LocalSize)
class LocalSizeAdmin(admin.ModelAdmin[LocalSize]):
    list_display = ["name", "cloud", "cpus", "ram_mb", "disk_gb", "gpus"]
    list_filter = ["cloud"]
    readonly_fields = ["uid"]


@admin.register(LocalNetwork)
class LocalNetworkAdmin(admin.ModelAdmin[LocalNetwork]):
    list_display = ["name", "cloud", "project_id", "external", "cidr"]
    list_filter = ["cloud", "external"]
    readonly_fields = ["uid"]


@admin.register(LocalQuota)
class LocalQuotaAdmin(admin.ModelAdmin[LocalQuota]):
    list_display = ["project_id", "cloud", "machines", "cpus", "ram_mb", "external_ips", "volumes", "volume_gb"]
    list_filter = ["cloud"]


@admin.register(LocalClusterTemplate)
class LocalClusterTemplateAdmin(admin.ModelAdmin[LocalClusterTemplate]):
    list_display = ["name", "cloud", "kubernetes_version", "master_size", "worker_size"]
    readonly_fields = ["uid"]


@admin.register(LocalMachine)
class LocalMachineAdmin(ReadOnlyAdmin[LocalMachine]):
    list_display = ["name", "project_id", "status", "settles_to", "settles_at", "host", "internal_ip", "created_at"]
    list_filter = ["cloud", "status", "project_id"]
    list_select_related = ["host"]


@admin.register(LocalCluster)
class LocalClusterAdmin(ReadOnlyAdmin[LocalCluster]):
    list_display = ["name", "project_id", "status", "kubernetes_version", "master_count", "worker_count"]
    list_filter = ["cloud", "status"]


@admin.register(LocalLease)
class LocalLeaseAdmin(ReadOnlyAdmin[LocalLease]):
    list_display = ["name", "project_id", "start", "end"]
    list_filter = ["cloud"]


@admin.register(LocalFault)
class LocalFaultAdmin(admin.ModelAdmin[LocalFault]):
    """Switch failures on for a demo: an operation name from the driver interface
    (e.g. `machine_create`, `images`) or `*`, a kind, how many times."""

    list_display = ["operation", "kind", "project_id", "remaining", "message", "cloud", "created_at"]
    list_filter = ["cloud", "kind"]
