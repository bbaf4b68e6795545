"""Forms of the machine pages. They check shape only; the services check the rest
(names, the catalogue, quotas, states) and their field errors land back here."""

from typing import Any

from django import forms
from django.db.models import QuerySet

from apps.accounts.models import SshPublicKey
from apps.catalogue.models import Catalogue
from apps.clouds.errors import BadInput
from apps.core.forms import ServiceForm
from apps.core.names import name_validator
from apps.machines.services import VOLUME_MAX_GB

from .models import ExternalIp, FirewallRule, Machine, Volume

NAME_RULE = "1 to 255 characters, unique in the tenancy. Letters, digits and hyphens make the best host names."


def _gb(mb: int) -> str:
    return f"{mb / 1024:g} GB"


def size_label(size: dict[str, Any]) -> str:
    gpus = f", {size['gpus']} GPU" if size.get("gpus") else ""
    return f"{size['name']}: {size['cpus']} CPU, {_gb(size['ram_mb'])} RAM, {size['disk_gb']} GB disk{gpus}"


class MachineCreateForm(ServiceForm):
    service_fields = {"image_id": "image", "size_id": "size", "ssh_key_id": "ssh_key"}

    name = forms.CharField(
        max_length=255,
        validators=[name_validator],
        help_text=NAME_RULE,
        widget=forms.TextInput(attrs={"class": "form-control", "autocomplete": "off", "placeholder": "analysis-1"}),
    )
    image = forms.ChoiceField(widget=forms.Select(attrs={"class": "form-select"}))
    size = forms.ChoiceField(widget=forms.Select(attrs={"class": "form-select"}))
    ssh_key = forms.ModelChoiceField(
        queryset=SshPublicKey.objects.none(),
        required=False,
        empty_label="No key (console access only)",
        widget=forms.Select(attrs={"class": "form-select"}),
        label="SSH key",
    )
    external_ip = forms.BooleanField(
        required=False,
        label="Give it an external IP",
        help_text="Reachable from outside the cloud (counts against the external IP quota).",
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )
    console = forms.BooleanField(
        required=False,
        initial=True,
        label="Web console through Atrium",
        help_text="Members of the tenancy can open its console in the browser.",
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )

    def __init__(self, *args: Any, catalogue: Catalogue, ssh_keys: QuerySet[SshPublicKey], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.catalogue = catalogue
        image, size = self.fields["image"], self.fields["size"]
        assert isinstance(image, forms.ChoiceField)  # noqa: S101 - declared above
        assert isinstance(size, forms.ChoiceField)  # noqa: S101 - declared above
        image.choices = [("", "Choose an image…")] + [(i["id"], i["name"]) for i in catalogue.images]
        size.choices = [("", "Choose a size…")] + [(s["id"], size_label(s)) for s in catalogue.sizes]
        ssh_field = self.fields["ssh_key"]
        assert isinstance(ssh_field, forms.ModelChoiceField)  # noqa: S101 - declared above
        ssh_field.queryset = ssh_keys
        ssh_field.help_text = "Put on the machine for the default user. Add keys under your profile."
        if not catalogue.capabilities.external_ips:
            del self.fields["external_ip"]

    def selected_size(self) -> dict[str, Any] | None:
        wanted = self.data.get("size") if self.is_bound else None
        return next((s for s in self.catalogue.sizes if s["id"] == wanted), None)


class ActionForm(forms.Form):
    """No fields: the action is in the URL."""


def _select(
    model: type[ExternalIp | Volume | Machine], label: str, empty_label: str, **kwargs: Any
) -> "forms.ModelChoiceField[Any]":
    """A small select among rows the view gives (`ChoiceForm`'s `choices`)."""
    return forms.ModelChoiceField(
        queryset=model.objects.none(),
        label=label,
        empty_label=empty_label,
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
        **kwargs,
    )


class ChoiceForm(ServiceForm):
    """One field (`choice` names it), a select among `choices`: the rows of the tenancy that fit."""

    choice = ""
    #: What a choice that is not among `choices` is told (a 400).
    refused = ""

    def __init__(self, *args: Any, choices: QuerySet[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields[self.choice]
        assert isinstance(field, forms.ModelChoiceField)  # noqa: S101 - declared by the subclass
        field.queryset = choices

    @classmethod
    def chosen(cls, data: Any, choices: QuerySet[Any]) -> Any:
        """The row posted (`data`) among `choices`; BadInput saying `refused` otherwise."""
        form = cls(data, choices=choices)
        if not form.is_valid():
            raise BadInput(cls.refused)
        return form.cleaned_data[cls.choice]


class ExternalIpAttachForm(ChoiceForm):
    choice = "ip"
    refused = "Choose one of the tenancy's free external IPs."
    ip = _select(ExternalIp, "External IP", "Allocate a new one", required=False)


class VolumeAttachForm(ChoiceForm):
    choice = "volume"
    refused = "Choose one of the tenancy's available volumes."
    volume = _select(Volume, "Volume", "Choose a volume…")


class MachineAttachForm(ChoiceForm):
    """Attach this IP or volume to one of the tenancy's machines."""

    choice = "machine"
    refused = "Choose one of the tenancy's machines."
    machine = _select(Machine, "Machine", "Choose a machine…")


class VolumeCreateForm(ServiceForm):
    name = forms.CharField(
        max_length=255,
        validators=[name_validator],
        help_text="1 to 255 characters, unique in the tenancy.",
        widget=forms.TextInput(attrs={"class": "form-control", "placeholder": "project-data"}),
    )
    size_gb = forms.IntegerField(
        min_value=1,
        max_value=VOLUME_MAX_GB,
        label="Size (GB)",
        widget=forms.NumberInput(attrs={"class": "form-control"}),
    )


PORTS_HINT = "Common ports: 22 SSH, 80 and 443 web, 8888 Jupyter. A range: 8000-8100. Empty for ICMP and any."


class FirewallRuleForm(ServiceForm):
    """A rule to add to a machine's firewall. The form reads "8000-8100" as a range;
    the service checks the rest (ports for TCP and UDP only, 1-65535, the network)."""

    service_fields = {"port_min": "ports", "port_max": "ports", "remote_cidr": "remote"}

    protocol = forms.ChoiceField(
        choices=FirewallRule.PROTOCOL_CHOICES,
        initial="tcp",
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    ports = forms.CharField(
        required=False,
        max_length=20,
        label="Port or range",
        help_text=PORTS_HINT,
        widget=forms.TextInput(
            attrs={"class": "form-control form-control-sm", "placeholder": "e.g. 8888", "inputmode": "numeric"}
        ),
    )
    remote = forms.CharField(
        required=False,
        max_length=64,
        label="From",
        help_text="An address (192.0.2.7) or network (192.0.2.0/24); empty for anywhere.",
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm", "placeholder": "anywhere"}),
    )

    def clean_ports(self) -> tuple[int | None, int | None]:
        text = self.cleaned_data["ports"].replace(" ", "")
        if not text:
            return None, None
        first, _, last = text.partition("-")
        if not first.isdecimal() or (last and not last.isdecimal()) or text.count("-") > 1:  # int() reads these
            raise forms.ValidationError("A port (8888) or a range (8000-8100).")
        return int(first), int(last) if last else None

    def service_data(self) -> dict[str, Any]:
        port_min, port_max = self.cleaned_data["ports"]
        return {
            "protocol": self.cleaned_data["protocol"],
            "port_min": port_min,
            "port_max": port_max,
            "remote_cidr": self.cleaned_data["remote"],
        }
