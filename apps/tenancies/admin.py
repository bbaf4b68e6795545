import json
from typing import Any

from django import forms
from django.contrib import admin
from django.db import models

from .models import Cloud, Membership, Tenancy


class CredentialsForm(forms.ModelForm):  # type: ignore[type-arg]
    """Credentials are write-only: the stored secret is never put in the page;
    a new JSON object replaces it, an empty box keeps it."""

    new_credentials = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text='A JSON object, e.g. {"application_credential_id": "…", "application_credential_secret": "…"}. '
        "Leave empty to keep what is stored; {} clears it.",
    )

    def clean_new_credentials(self) -> dict[str, str] | None:
        text = self.cleaned_data["new_credentials"].strip()
        if not text:
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc.msg} (line {exc.lineno}).") from None
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise forms.ValidationError("Give a JSON object of names to text values.")
        return value

    def save(self, commit: bool = True) -> Any:
        new = self.cleaned_data.get("new_credentials")
        if new is not None:
            self.instance.credentials = new
        return super().save(commit=commit)


class CredentialsAdminMixin:
    @admin.display(description="Stored credentials")
    def credentials_summary(self, obj: Cloud | Tenancy) -> str:
        keys = sorted((obj.credentials or {}).keys()) if obj.pk else []
        return ", ".join(keys) + " (values hidden)" if keys else "none"


@admin.register(Cloud)
class CloudAdmin(CredentialsAdminMixin, admin.ModelAdmin[Cloud]):
    list_display = ["name", "driver", "endpoint", "created_at"]
    list_filter = ["driver"]
    search_fields = ["name", "endpoint"]
    fields = ["name", "driver", "endpoint", "options", "description", "credentials_summary", "new_credentials"]
    readonly_fields = ["credentials_summary"]
    form = CredentialsForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


class MembershipInline(admin.TabularInline[Membership, Tenancy]):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "source"]


@admin.register(Tenancy)
class TenancyAdmin(CredentialsAdminMixin, admin.ModelAdmin[Tenancy]):
    list_display = ["name", "cloud", "project_id", "created_at"]
    list_filter = ["cloud"]
    search_fields = ["name", "project_id"]
    fields = ["name", "description", "cloud", "project_id", "credentials_summary", "new_credentials"]
    readonly_fields = ["credentials_summary"]
    form = CredentialsForm
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin[Membership]):
    list_display = ["user", "tenancy", "role", "source", "created_at"]
    list_filter = ["role", "source", "tenancy"]
    search_fields = ["user__username", "tenancy__name"]
    autocomplete_fields = ["user", "tenancy"]
