"""Machines, external IPs and volumes as the API shows them, and what create and
attach accept. Types are checked here (400 with DRF's field messages); the rest
(names, catalogue, quotas, states) by apps.machines.services, whose BadInput
fields come back in the same error format."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from apps.accounts.models import SshPublicKey
from apps.accounts.selectors import ssh_key_get
from apps.core.errors import NotFound
from apps.core.names import NAME_RULE, name_validator
from apps.core.resources.api import accepted_serializer, row_url
from apps.jobs.api.serializers import person_field

from .. import services
from ..models import ExternalIp, FirewallRule, Machine, Volume


def _url(serializer: serializers.BaseSerializer[Any], name: str, obj: Machine | ExternalIp | Volume) -> str:
    return row_url(serializer.context, name, obj.tenancy_id, obj.pk)


class _Linked(serializers.Serializer[Any]):
    """id + url of a tenancy's object (subclasses say which route)."""

    route = ""
    id = serializers.IntegerField(read_only=True)
    url = serializers.SerializerMethodField()

    def get_url(self, obj: Machine | ExternalIp | Volume) -> str:
        return _url(self, self.route, obj)


class _LinkedModel(serializers.ModelSerializer[Any]):
    # A tenancy's object as listed, with its url (subclasses say which route). A comment, not
    # a docstring: drf-spectacular would describe every subclass without one of its own with it.
    route = ""
    url = serializers.SerializerMethodField()

    def get_url(self, obj: Machine | ExternalIp | Volume) -> str:
        return _url(self, self.route, obj)


class MachineRefSerializer(_Linked):
    route = "machine"
    name = serializers.CharField(read_only=True)


class VolumeRefSerializer(_Linked):
    route = "volume"
    name = serializers.CharField(read_only=True)
    size_gb = serializers.IntegerField(read_only=True)
    status = serializers.CharField(read_only=True)
    device = serializers.CharField(read_only=True, help_text="Where the machine sees it, e.g. /dev/vdb.")


class ExternalIpRefSerializer(_Linked):
    route = "external-ip"
    address = serializers.IPAddressField(read_only=True, allow_null=True)


class ImageRefSerializer(serializers.Serializer[Machine]):
    id = serializers.CharField(source="image_id", read_only=True)
    name = serializers.CharField(source="image_name", read_only=True)


class SizeRefSerializer(serializers.Serializer[Machine]):
    id = serializers.CharField(source="size_id", read_only=True)
    name = serializers.CharField(source="size_name", read_only=True)
    cpus = serializers.IntegerField(read_only=True)
    ram_mb = serializers.IntegerField(read_only=True)
    disk_gb = serializers.IntegerField(read_only=True)


class MachineSerializer(_LinkedModel):
    """A machine as listed: the request and what the cloud was last seen to have."""

    route = "machine"
    status_label = serializers.CharField(read_only=True, help_text="The task while Atrium works on it, else status.")
    image = ImageRefSerializer(source="*", read_only=True)
    size = SizeRefSerializer(source="*", read_only=True)
    created_by = person_field("Null for machines made outside Atrium.")
    actions = serializers.SerializerMethodField(help_text="What can be done to it now: start, stop, restart, delete.")
    console = serializers.BooleanField(source="console_enabled", read_only=True)

    class Meta:
        model = Machine
        fields = [
            "id",
            "url",
            "name",
            "status",
            "task",
            "status_label",
            "fault",
            "image",
            "size",
            "key_name",
            "key_fingerprint",
            "internal_ip",
            "external_ip",
            "external",
            "console",
            "created_by",
            "created_at",
            "observed_at",
            "actions",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "task": {"help_text": 'What Atrium is doing to it now ("building", "stopping"…); empty when idle.'},
            "external": {"help_text": "Found on the cloud by a sync, not created through Atrium."},
        }

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_actions(self, machine: Machine) -> list[str]:
        return services.machine_actions(machine)


class MachineDetailSerializer(MachineSerializer):
    """A machine with its volumes, and whether it has a firewall of its own."""

    volumes = VolumeRefSerializer(many=True, read_only=True)
    firewall = serializers.BooleanField(
        source="has_firewall",
        read_only=True,
        allow_null=True,
        help_text="It has a firewall of its own whose rules are under firewall-rules/: true; the cloud gave it "
        "none (made outside Atrium, or before Atrium gave machines one): false; not read from the cloud yet: null.",
    )

    class Meta(MachineSerializer.Meta):
        fields = [*MachineSerializer.Meta.fields, "volumes", "firewall"]
        read_only_fields = fields


def _name_field() -> serializers.CharField:
    # The name rule (1 to 255 characters, unique in the tenancy, apps.core.names) is the
    # services' one, so the API and the page say the same thing; here for the schema too.
    return serializers.CharField(
        trim_whitespace=False,
        max_length=255,
        validators=[name_validator],
        help_text=f"1 to 255 characters, unique in the tenancy. {NAME_RULE}",
    )


class MachineCreateSerializer(serializers.Serializer[Any]):
    name = _name_field()
    image_id = serializers.CharField(allow_blank=True, help_text="An id from images/.")
    size_id = serializers.CharField(allow_blank=True, help_text="An id from sizes/.")
    ssh_key_id = serializers.IntegerField(
        allow_null=True, default=None, help_text="One of your SSH keys (ssh-keys/); omit for none."
    )
    external_ip = serializers.BooleanField(default=False, help_text="Allocate and attach an external IP.")
    console = serializers.BooleanField(default=True, help_text="Offer the web console through Atrium.")

    def validate_ssh_key_id(self, key_id: int | None) -> SshPublicKey | None:
        """The key itself (context["user"]'s, else a field error)."""
        if key_id is None:
            return None
        try:
            return ssh_key_get(user=self.context["user"], key_id=key_id)
        except NotFound:
            raise serializers.ValidationError("Not one of your SSH keys.") from None


MachineAcceptedSerializer = accepted_serializer(
    "MachineAcceptedSerializer",
    "machine",
    MachineRefSerializer,
    "The new machine.",
    'The create job, and the machine it makes (listed at once, as "building").',
)


class ConsoleLogSerializer(serializers.Serializer[Any]):
    lines = serializers.IntegerField(
        required=False, default=500, min_value=1, max_value=10000, help_text="How many of the last lines (1-10000)."
    )


class ConsoleLogResponseSerializer(serializers.Serializer[Any]):
    machine = serializers.IntegerField()
    lines = serializers.IntegerField(help_text="How many lines were asked for.")
    log = serializers.CharField(help_text="The last lines of the machine's serial console, as the cloud has them.")


class ConsoleSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(
        choices=["novnc", "serial"], help_text="novnc: the cloud's graphical console; serial: the console log, live."
    )
    url = serializers.URLField(help_text="Atrium's console page: open it in a browser signed in to Atrium.")


class _AttachedRow(_LinkedModel):
    # An external IP or a volume: the machine it is attached to, if any.
    machine = MachineRefSerializer(read_only=True, allow_null=True, help_text="The machine it is attached to.")
    created_by = person_field("Null for those made outside Atrium.")

    #: What each lists last: found by a sync, who made it and when, when the cloud was last read.
    row_fields = ("external", "created_by", "created_at", "observed_at")


class ExternalIpSerializer(_AttachedRow):
    route = "external-ip"

    class Meta:
        model = ExternalIp
        fields = ["id", "url", "address", "machine", "task", "with_machine"]
        fields += _AttachedRow.row_fields
        read_only_fields = fields
        extra_kwargs = {
            "address": {"help_text": "Empty until the cloud has allocated it."},
            "with_machine": {"help_text": "Allocated with a machine: released when the machine is deleted."},
        }


ExternalIpAcceptedSerializer = accepted_serializer(
    "ExternalIpAcceptedSerializer",
    "external_ip",
    ExternalIpRefSerializer,
    "The new external IP.",
    'The allocate job, and the external IP it makes (listed at once, as "allocating").',
)


class VolumeSerializer(_AttachedRow):
    route = "volume"
    status_label = serializers.CharField(read_only=True)

    class Meta:
        model = Volume
        fields = ["id", "url", "name", "size_gb", "status", "task", "status_label", "machine", "device"]
        fields += _AttachedRow.row_fields
        read_only_fields = fields


class VolumeCreateSerializer(serializers.Serializer[Any]):
    name = _name_field()
    size_gb = serializers.IntegerField(
        min_value=1, max_value=services.VOLUME_MAX_GB, help_text=f"1 to {services.VOLUME_MAX_GB}."
    )


VolumeAcceptedSerializer = accepted_serializer(
    "VolumeAcceptedSerializer",
    "volume",
    VolumeRefSerializer,
    "The new volume.",
    'The create job, and the volume it makes (listed at once, as "creating").',
)


class AttachSerializer(serializers.Serializer[Any]):
    machine_id = serializers.IntegerField(help_text="A machine of this tenancy.")


# --- a machine's firewall ------------------------------------------------------------------------


def _rule_url(serializer: serializers.BaseSerializer[Any], rule: FirewallRule) -> str:
    return reverse(
        "api:machine-firewall-rule-detail",
        kwargs={"tenancy_id": rule.tenancy_id, "machine_id": rule.machine_id, "pk": rule.pk},
        request=serializer.context.get("request"),
    )


class FirewallRuleSerializer(serializers.ModelSerializer[FirewallRule]):
    """One way in to a machine: traffic of `protocol` (to ports `port_min`..`port_max` for
    TCP and UDP) from addresses in `remote_cidr`. Everything else is refused; everything may leave."""

    url = serializers.SerializerMethodField()
    description = serializers.CharField(read_only=True, help_text='In words, e.g. "TCP port 22 (SSH) from anywhere".')
    created_by = person_field("Null for the machine's first rules and those found.")

    class Meta:
        model = FirewallRule
        fields = [
            "id",
            "url",
            "protocol",
            "port_min",
            "port_max",
            "remote_cidr",
            "description",
            "task",
            "fault",
            "external",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "port_min": {"help_text": "The first port (TCP and UDP); null for ICMP and any."},
            "port_max": {"help_text": "The last port (the same as port_min for one port)."},
            "remote_cidr": {"help_text": "Where traffic may come from: 0.0.0.0/0 is anywhere."},
            "task": {"help_text": 'What Atrium is doing to it now ("adding", "removing"); empty when idle.'},
            "fault": {"help_text": "Why the cloud refused to add it (the rule is not in force); empty otherwise."},
            "external": {"help_text": "Added outside Atrium (found by a sync)."},
        }

    def get_url(self, rule: FirewallRule) -> str:
        return _rule_url(self, rule)


class FirewallRuleCreateSerializer(serializers.Serializer[Any]):
    # Types here; the rule itself (ports only for TCP and UDP, 1-65535, the network, not a rule
    # the machine has) is the services' check, with the page's messages.
    protocol = serializers.ChoiceField(choices=[c for c, _ in FirewallRule.PROTOCOL_CHOICES])
    port_min = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="A port from 1 to 65535; TCP and UDP only."
    )
    port_max = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="The last port of a range; omit for one port."
    )
    remote_cidr = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="An address (192.0.2.7) or network (192.0.2.0/24) traffic may come from; omit for anywhere.",
    )


class FirewallRuleRefSerializer(_Linked):
    description = serializers.CharField(read_only=True)

    def get_url(self, obj: Any) -> str:
        return _rule_url(self, obj)  # under its machine


FirewallRuleAcceptedSerializer = accepted_serializer(
    "FirewallRuleAcceptedSerializer",
    "firewall_rule",
    FirewallRuleRefSerializer,
    "The new rule.",
    'The job that adds the rule, and the rule (listed at once, as "adding").',
)
