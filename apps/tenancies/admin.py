import json
import tempfile
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from apps.clouds.errors import BadInput, CloudError

from .models import Cloud, Membership, Tenancy
from .services import cloud_register


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


class CloudsYamlForm(forms.Form):
    """The admin's way to what `manage.py cloud_register` does: paste a clouds.yaml."""

    name = forms.CharField(max_length=100, help_text="The cloud's name in Atrium (an existing one is updated).")
    clouds_yaml = forms.CharField(
        label="clouds.yaml",
        widget=forms.Textarea(attrs={"rows": 14, "autocomplete": "off", "spellcheck": "false"}),
        help_text="The file's text, as Horizon or `openstack` gives it. Secrets in it are stored encrypted.",
    )
    entry = forms.CharField(max_length=100, help_text="The entry under clouds: to use.")
    with_credentials = forms.BooleanField(
        required=False,
        label="Keep the entry's credentials for the cloud",
        help_text="Leave off when every tenancy brings its own application credential (the usual set-up).",
    )
    federated = forms.CharField(
        required=False,
        max_length=100,
        label="Per-user federation: identity provider",
        help_text="Keystone's OS-FEDERATION identity provider name, to act as each user; no credential is kept.",
    )
    protocol = forms.CharField(max_length=100, initial="openid", help_text="With federation: the protocol's name.")

    def register(self) -> tuple[Cloud, bool] | None:
        """Register the cloud, or put what is wrong on the form and return None."""
        data = self.cleaned_data
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as file:
            file.write(data["clouds_yaml"])
            file.flush()
            try:
                return cloud_register(
                    name=data["name"],
                    clouds_yaml=file.name,
                    entry=data["entry"],
                    with_credentials=data["with_credentials"],
                    federated=data["federated"].strip(),
                    protocol=data["protocol"].strip(),
                )
            except BadInput as exc:
                # The loader's message names the temporary file; name what the operator pasted.
                self.add_error("clouds_yaml", exc.message.replace(file.name, "the clouds.yaml"))
                return None


@admin.register(Cloud)
class CloudAdmin(CredentialsAdminMixin, admin.ModelAdmin[Cloud]):
    list_display = ["name", "driver", "endpoint", "created_at"]
    list_filter = ["driver"]
    search_fields = ["name", "endpoint"]
    fields = ["name", "driver", "endpoint", "options", "description", "credentials_summary", "new_credentials"]
    readonly_fields = ["credentials_summary"]
    form = CredentialsForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    change_list_template = "admin/tenancies/cloud/change_list.html"

    def get_urls(self) -> list[URLPattern]:
        register = path(
            "register/",
            self.admin_site.admin_view(self.register_view),
            name="tenancies_cloud_register",
        )
        return [register, *super().get_urls()]

    def register_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            return HttpResponse(status=403)
        form = CloudsYamlForm(request.POST or None)
        if request.method == "POST" and form.is_valid() and (registered := form.register()) is not None:
            cloud, created = registered
            self.message_user(request, f"{'Registered' if created else 'Updated'} {cloud.name} at {cloud.endpoint}.")
            return HttpResponseRedirect(reverse("admin:tenancies_cloud_change", args=[cloud.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Register an OpenStack cloud from clouds.yaml",
            "form": form,
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/tenancies/cloud/register.html", context)


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
    actions = ["check_access"]

    @admin.action(description="Check Atrium can reach the selected tenancies' projects")
    def check_access(self, request: HttpRequest, queryset: QuerySet[Tenancy]) -> None:
        """Reads each project's quotas with the tenancy's own credentials (nothing changes)."""
        from apps.clouds.registry import driver_for_tenancy

        for tenancy in queryset.select_related("cloud"):
            try:
                quotas = driver_for_tenancy(tenancy, user=request.user).quotas()  # type: ignore[arg-type]
            except CloudError as exc:
                self.message_user(request, f"{tenancy.name}: {exc.message}", messages.ERROR)
                continue
            machines = next((q for q in quotas if q.resource == "machines"), None)
            use = f" ({machines.used} of {machines.limit} machines in use)" if machines and machines.limit else ""
            self.message_user(request, f"{tenancy.name}: reached project {tenancy.project_id}{use}.")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin[Membership]):
    list_display = ["user", "tenancy", "role", "source", "created_at"]
    list_filter = ["role", "source", "tenancy"]
    search_fields = ["user__username", "tenancy__name"]
    autocomplete_fields = ["user", "tenancy"]
