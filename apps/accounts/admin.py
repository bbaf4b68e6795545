from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import ApiToken, GroupMapping, SshPublicKey, User


@admin.register(User)
class AtriumUserAdmin(UserAdmin):  # type: ignore[type-arg]
    list_display = ("username", "email", "first_name", "last_name", "is_staff", "oidc_subject")
    fieldsets = (*(UserAdmin.fieldsets or ()), ("Identity provider", {"fields": ("oidc_issuer", "oidc_subject")}))
    readonly_fields = ("oidc_issuer", "oidc_subject")


@admin.register(GroupMapping)
class GroupMappingAdmin(admin.ModelAdmin[GroupMapping]):
    list_display = ["group", "tenancy", "role", "created_at"]
    list_filter = ["role", "tenancy"]
    search_fields = ["group", "tenancy__name"]
    autocomplete_fields = ["tenancy"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    """Operators can see and revoke (delete) tokens; never their keys."""

    list_display = ["name", "user", "token_key", "created", "expiry", "last_used_at"]
    search_fields = ["name", "user__username", "token_key"]
    fields = ("name", "user", "token_key", "created", "expiry", "last_used_at")
    readonly_fields = fields

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(SshPublicKey)
class SshPublicKeyAdmin(admin.ModelAdmin[SshPublicKey]):
    list_display = ["name", "user", "key_type", "bits", "fingerprint", "created_at"]
    search_fields = ["name", "user__username", "fingerprint"]
    readonly_fields = ["key_type", "bits", "fingerprint"]
