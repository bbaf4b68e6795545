"""The form a platform type's parameters make. It only draws the fields (widgets, choices
from the tenancy's catalogue, defaults as initial values); the values it posts are checked
by `platform_params_clean`, the one check the API uses too, whose field errors are put
back on the form."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.catalogue.models import Catalogue

from .models import PlatformType
from .params import BOOLEANS, images_allowed, option_values, sizes_allowed


def _field(param: dict[str, Any], catalogue: Catalogue | None) -> forms.Field:
    kind = param["kind"]
    common: dict[str, Any] = {"label": param.get("label") or param["name"], "required": False}
    text = {"class": "form-control"}
    select = {"class": "form-select"}
    if kind in BOOLEANS:
        return forms.BooleanField(widget=forms.CheckboxInput(attrs={"class": "form-check-input"}), **common)
    if kind == "choice":
        options = [(o, o) if isinstance(o, str) else (o["value"], o.get("label", o["value"])) for o in param["options"]]
        assert [o[0] for o in options] == option_values(param)  # noqa: S101 - one list of options
        return forms.ChoiceField(choices=[("", "—"), *options], widget=forms.Select(attrs=select), **common)
    if kind in ("cloud_size", "cloud_image") and catalogue is not None:
        if kind == "cloud_size":
            entries = [
                (s["id"], f"{s['name']} ({s['cpus']} CPUs, {s['ram_mb'] // 1024} GB RAM, {s['disk_gb']} GB disk)")
                for s in sizes_allowed(param, catalogue)
            ]
        else:
            entries = [(i["id"], i["name"]) for i in images_allowed(param, catalogue)]
        return forms.ChoiceField(choices=[("", "—"), *entries], widget=forms.Select(attrs=select), **common)
    if kind in ("integer", "number", "volume_size"):
        attrs = {**text, "min": param.get("min", 1 if kind == "volume_size" else ""), "max": param.get("max", "")}
        attrs = {k: v for k, v in attrs.items() if v != ""}
        return forms.CharField(widget=forms.NumberInput(attrs=attrs), **common)
    if kind == "list":
        return forms.CharField(widget=forms.Textarea(attrs={**text, "rows": 3}), **common)
    widget = forms.PasswordInput(attrs=text) if param.get("secret") else forms.TextInput(attrs=text)
    return forms.CharField(widget=widget, **common)


def _initial(param: dict[str, Any], catalogue: Catalogue | None) -> Any:
    default = param.get("default")
    if param["kind"] in ("cloud_size", "cloud_image") and catalogue is not None and isinstance(default, str):
        entries = catalogue.sizes if param["kind"] == "cloud_size" else catalogue.images
        return next((e["id"] for e in entries if default in (e["id"], e["name"])), None)
    if param["kind"] == "list" and isinstance(default, list):
        return "\n".join(default)
    return default


class PlatformParamsForm(forms.Form):
    """One field per parameter the person may set (hidden ones are not asked)."""

    def __init__(self, *args: Any, ptype: PlatformType, catalogue: Catalogue | None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.ptype = ptype
        for param in ptype.parameters:
            if param.get("hidden"):
                continue
            field = _field(param, catalogue)
            field.initial = _initial(param, catalogue)
            field.help_text = param.get("help", "")
            self.fields[param["name"]] = field

    def values(self) -> dict[str, Any]:
        """What was posted, as `platform_params_clean` takes it (an unticked box is false)."""
        kinds = {p["name"]: p["kind"] for p in self.ptype.parameters}
        return {
            name: ("true" if self.data.get(name) else "false") if kinds[name] in BOOLEANS else self.data.get(name, "")
            for name in self.fields
        }

    def errors_from(self, fields: dict[str, list[str]]) -> None:
        for name, messages in fields.items():
            for message in messages:
                self.add_error(name if name in self.fields else None, message)
