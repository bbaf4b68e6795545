"""Operators choose here which tenancies may use each platform type; the rest of a type is
what its platform.yaml says (reloaded by `manage.py platform_types_sync`), read-only."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from .loader import platform_types_sync
from .models import PlatformType


@admin.register(PlatformType)
class PlatformTypeAdmin(admin.ModelAdmin[PlatformType]):
    list_display = ["name", "label", "version", "valid", "available_to_all", "loaded_at"]
    list_filter = ["valid", "available_to_all"]
    search_fields = ["name", "label"]
    filter_horizontal = ["tenancies"]
    fields = ["name", "label", "version", "valid", "error", "available_to_all", "tenancies", "description", "loaded_at"]
    readonly_fields = ["name", "label", "version", "valid", "error", "description", "loaded_at"]
    actions = ["reload"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # rows come from the folders

    @admin.action(description="Reload every platform type from its folder")
    def reload(self, request: HttpRequest, queryset: QuerySet[PlatformType]) -> None:
        for found in platform_types_sync():
            if found.error:
                self.message_user(request, found.error, messages.ERROR)
        self.message_user(request, "Platform types reloaded.")
