"""Platform types as the API shows them: what platform.yaml declares (parameters with
their bounds, services, usage text, changelog), and the logo as a data: URI."""

from typing import Any

from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers
from rest_framework.reverse import reverse

from ..models import PlatformType
from ..params import KINDS as PARAM_KINDS

KINDS = list(PARAM_KINDS)

# The parts of platform.yaml, for the schema (the answer is the file's own dicts). Built
# with inline_serializer: fields called `label` and `required` would shadow a Field's own.
CHANGE = inline_serializer(
    "PlatformTypeChange",
    fields={
        "version": serializers.CharField(),
        "date": serializers.CharField(required=False),
        "notes": serializers.CharField(help_text="Markdown."),
    },
    many=True,
)
SERVICE = inline_serializer(
    "PlatformTypeService",
    fields={
        "name": serializers.CharField(),
        "label": serializers.CharField(),
        "icon": serializers.CharField(required=False, help_text="A Bootstrap Icons name."),
        "internal": serializers.BooleanField(required=False, help_text="Reached only through Atrium's proxy."),
        "when": serializers.DictField(
            required=False, help_text="Offered only when every parameter named has the value given."
        ),
    },
    many=True,
)
PARAMETER = inline_serializer(
    "PlatformTypeParameter",
    fields={
        "name": serializers.CharField(),
        "kind": serializers.ChoiceField(choices=KINDS),
        "label": serializers.CharField(required=False),
        "help": serializers.CharField(required=False, help_text="Markdown."),
        "default": serializers.JSONField(required=False),
        "required": serializers.BooleanField(required=False),
        "immutable": serializers.BooleanField(required=False, help_text="Set only when a platform is created."),
        "hidden": serializers.BooleanField(required=False, help_text="Not asked: always its default."),
        "secret": serializers.BooleanField(required=False, help_text="Masked wherever it is shown."),
    },
    many=True,
    help_text="As platform.yaml declares them; the keys beyond these depend on `kind` (min/max, "
    "min_length/max_length/pattern, options, min_items/max_items, min_cpus/min_ram_mb/min_disk_gb/"
    "count_parameter, name_pattern/os_distro, permanent): see terraform/platform.schema.json.",
)


class PlatformTypeSerializer(serializers.ModelSerializer[PlatformType]):
    url = serializers.SerializerMethodField()
    logo = serializers.CharField(read_only=True, help_text="A data: URI, or empty.")
    ssh_key = serializers.BooleanField(read_only=True, help_text="A platform of this type needs an SSH key.")
    parameters = serializers.SerializerMethodField()
    services = serializers.SerializerMethodField()
    usage = serializers.CharField(
        read_only=True, help_text="Markdown; {{ outputs.NAME }} and {{ params.NAME }} are filled in on a platform."
    )
    changelog = serializers.SerializerMethodField()

    class Meta:
        model = PlatformType
        fields = [
            "name",
            "url",
            "label",
            "version",
            "description",
            "logo",
            "ssh_key",
            "parameters",
            "services",
            "usage",
            "changelog",
        ]
        extra_kwargs = {"description": {"help_text": "Markdown."}}

    @extend_schema_field(serializers.URLField())
    def get_url(self, ptype: PlatformType) -> str:
        return reverse("api:platform-type-detail", args=[ptype.name], request=self.context.get("request"))

    @extend_schema_field(PARAMETER)
    def get_parameters(self, ptype: PlatformType) -> list[dict[str, Any]]:
        return ptype.parameters

    @extend_schema_field(SERVICE)
    def get_services(self, ptype: PlatformType) -> list[dict[str, Any]]:
        return ptype.services

    @extend_schema_field(CHANGE)
    def get_changelog(self, ptype: PlatformType) -> list[dict[str, Any]]:
        return ptype.changelog
