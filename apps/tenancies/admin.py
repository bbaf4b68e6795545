from django.contrib import admin

from .models import Cloud, Membership, Tenancy


@admin.register(Cloud)
class CloudAdmin(admin.ModelAdmin[Cloud]):
    list_display = ["name", "driver", "endpoint", "created_at"]
    list_filter = ["driver"]
    search_fields = ["name", "endpoint"]
    exclude = ["credentials"]  # secrets never reach a browser; set them with a management command


class MembershipInline(admin.TabularInline[Membership, Tenancy]):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Tenancy)
class TenancyAdmin(admin.ModelAdmin[Tenancy]):
    list_display = ["name", "cloud", "project_id", "created_at"]
    list_filter = ["cloud"]
    search_fields = ["name", "project_id"]
    exclude = ["credentials"]  # secrets never reach a browser
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin[Membership]):
    list_display = ["user", "tenancy", "role", "created_at"]
    list_filter = ["role", "tenancy"]
    search_fields = ["user__username", "tenancy__name"]
    autocomplete_fields = ["user", "tenancy"]
