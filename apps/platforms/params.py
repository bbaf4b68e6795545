"""A platform's parameters: one check for the form and the API (`platform_params_clean`),
what they would take of the quotas (`platform_quota_projection`), which services they
turn on (`platform_services`), and how secrets are shown (`platform_params_shown`).

Values may come typed (the API's JSON) or as text (a form): "10" is an integer, "on" or
"true" a boolean, a list one item a line. Cloud sizes and images are checked against the
tenancy's cached catalogue (no cloud call); a size or an image is given by its id or its
name and cleaned to its id.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from apps.catalogue.models import Catalogue
from apps.catalogue.selectors import catalogue_cached
from apps.clouds.errors import BadInput
from apps.tenancies.models import Tenancy

from .models import PlatformType

Param = dict[str, Any]
SECRET_MASK = "********"  # noqa: S105 - what a secret is shown as, not one
TRUE = {"true", "on", "1", "yes"}
FALSE = {"false", "off", "0", "no", ""}


class _Refused(Exception):
    """One parameter's value refused; the message is its field error."""


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _bounded(param: Param, number: float, low_key: str = "min", high_key: str = "max", units: str = "") -> None:
    """Refused unless `number` (a value, or a length) is within the parameter's bounds."""
    low, high = param.get(low_key), param.get(high_key)
    if low is not None and number < low:
        raise _Refused(f"At least {low}{units}.")
    if high is not None and number > high:
        raise _Refused(f"At most {high}{units}.")


def _string(param: Param, value: Any, _: Catalogue | None) -> str:
    if not isinstance(value, str):
        raise _Refused("Enter text.")
    _bounded(param, len(value), "min_length", "max_length", " characters")
    if param.get("pattern") and not re.fullmatch(param["pattern"], value):
        raise _Refused(f"Must match {param['pattern']}.")
    return value


def _integer(param: Param, value: Any, _: Catalogue | None) -> int:
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Refused("Enter a whole number.")
    _bounded(param, value)
    return value


def _number(param: Param, value: Any, _: Catalogue | None) -> float | int:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise _Refused("Enter a number.") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _Refused("Enter a number.")
    _bounded(param, value)
    return value


def _boolean(param: Param, value: Any, _: Catalogue | None) -> bool:
    if isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
        return value.strip().lower() in TRUE
    if not isinstance(value, bool):
        raise _Refused("Enter true or false.")
    return value


def option_values(param: Param) -> list[str]:
    return [o if isinstance(o, str) else o["value"] for o in param.get("options", [])]


def _choice(param: Param, value: Any, _: Catalogue | None) -> str:
    if not isinstance(value, str) or value not in option_values(param):
        raise _Refused(f"Choose one of {', '.join(option_values(param))}.")
    return value


def _list(param: Param, value: Any, _: Catalogue | None) -> list[str]:
    if isinstance(value, str):
        value = [line.strip() for line in value.splitlines() if line.strip()]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Refused("Enter a list of texts.")
    _bounded(param, len(value), "min_items", "max_items", " items")
    return value


def _pick(entries: list[dict[str, Any]], value: Any, what: str) -> dict[str, Any]:
    """The catalogue entry with this id, or else the one with this name."""
    if not isinstance(value, str):
        raise _Refused(f"Give the {what}'s id or name.")
    for key in ("id", "name"):
        found = [e for e in entries if e[key] == value]
        if len(found) == 1:
            return found[0]
    raise _Refused(f"There is no {what} {value!r} in this tenancy.")


def sizes_allowed(param: Param, catalogue: Catalogue) -> list[dict[str, Any]]:
    """The catalogue's sizes meeting the parameter's minimums."""
    return [
        s
        for s in catalogue.sizes
        if s["cpus"] >= param.get("min_cpus", 0)
        and s["ram_mb"] >= param.get("min_ram_mb", 0)
        and s["disk_gb"] >= param.get("min_disk_gb", 0)
    ]


def images_allowed(param: Param, catalogue: Catalogue) -> list[dict[str, Any]]:
    """The catalogue's images passing the parameter's filters."""
    pattern, distro = param.get("name_pattern"), param.get("os_distro")
    return [
        i
        for i in catalogue.images
        if (not pattern or re.search(pattern, i["name"]))
        and (not distro or i.get("os_distro", "").lower() == distro.lower())
    ]


def _cloud_size(param: Param, value: Any, catalogue: Catalogue | None) -> str:
    assert catalogue is not None  # noqa: S101 - loaded whenever a parameter needs it
    size = _pick(catalogue.sizes, value, "size")
    if size not in sizes_allowed(param, catalogue):
        wants = ", ".join(
            f"{param[k]} {label}"
            for k, label in (("min_cpus", "CPUs"), ("min_ram_mb", "MB of RAM"), ("min_disk_gb", "GB of disk"))
            if param.get(k)
        )
        raise _Refused(f"{size['name']} is too small: this needs at least {wants}.")
    return str(size["id"])


def _cloud_image(param: Param, value: Any, catalogue: Catalogue | None) -> str:
    assert catalogue is not None  # noqa: S101 - loaded whenever a parameter needs it
    image = _pick(catalogue.images, value, "image")
    if image not in images_allowed(param, catalogue):
        raise _Refused(f"{image['name']} cannot be used for this platform.")
    return str(image["id"])


def _external_ip(param: Param, value: Any, catalogue: Catalogue | None) -> bool:
    wanted = _boolean(param, value, catalogue)
    assert catalogue is not None  # noqa: S101 - loaded whenever a parameter needs it
    if wanted and not catalogue.capabilities.external_ips:
        raise _Refused("This tenancy's cloud offers no external IPs.")
    return wanted


def _volume_size(param: Param, value: Any, catalogue: Catalogue | None) -> int:
    size = _integer({"min": 1, **param}, value, catalogue)
    assert catalogue is not None  # noqa: S101 - loaded whenever a parameter needs it
    if size and not catalogue.capabilities.volumes:
        raise _Refused("This tenancy's cloud offers no volumes.")
    return size


KINDS: dict[str, Callable[[Param, Any, Catalogue | None], Any]] = {
    "string": _string,
    "integer": _integer,
    "number": _number,
    "boolean": _boolean,
    "choice": _choice,
    "list": _list,
    "cloud_size": _cloud_size,
    "cloud_image": _cloud_image,
    "external_ip": _external_ip,
    "volume_size": _volume_size,
}
KIND_CHOICES = [(kind, kind) for kind in KINDS]
#: Kinds checked against the tenancy's catalogue.
ON_CLOUD = {"cloud_size", "cloud_image", "external_ip", "volume_size"}
BOOLEANS = {"boolean", "external_ip"}


def _default(param: Param, catalogue: Catalogue | None) -> Any:
    """The declared default, cleaned (a size's name becomes its id; a boolean without one is
    false); None if it does not fit this tenancy (say, no such image here): then the person
    must choose (an external IP by default on a cloud that has none is simply not asked for)."""
    if "default" not in param:
        return False if param["kind"] in BOOLEANS else None
    try:
        return KINDS[param["kind"]](param, param["default"], catalogue)
    except _Refused:
        return False if param["kind"] in BOOLEANS else None


def platform_params_clean(
    ptype: PlatformType,
    values: Mapping[str, Any],
    *,
    tenancy: Tenancy,
    existing: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Every parameter of `ptype` cleaned, defaults applied; `existing` (an update) are the
    platform's current values: immutable ones may not change, permanent booleans may not
    be turned off, and what is not given keeps its current value. BadInput (400) with one
    error per field otherwise, unknown parameters included."""
    params = ptype.parameters
    catalogue = catalogue_cached(tenancy=tenancy) if any(p["kind"] in ON_CLOUD for p in params) else None
    known = {p["name"] for p in params}
    errors: dict[str, list[str]] = {name: ["Unknown parameter."] for name in values if name not in known}
    cleaned: dict[str, Any] = {}
    for param in params:
        name = param["name"]
        given = values.get(name)
        try:
            cleaned[name] = _clean_one(param, given, existing, catalogue)
        except _Refused as exc:
            errors[name] = [str(exc)]
    if errors:
        raise BadInput(f"The {ptype.label} cannot be set up as asked.", fields=errors)
    return cleaned


def _clean_one(param: Param, given: Any, existing: Mapping[str, Any] | None, catalogue: Catalogue | None) -> Any:
    name, kind = param["name"], param["kind"]
    before = None if existing is None else existing.get(name)
    if param.get("hidden"):
        default = _default(param, catalogue)
        if not _empty(given) and KINDS[kind](param, given, catalogue) != default:
            raise _Refused("Set by the platform type; it cannot be changed.")
        return default if existing is None else before
    if _empty(given) or (given == SECRET_MASK and param.get("secret")):
        if existing is not None:  # an update: not given (or a secret left blank) keeps it
            return before
        value = _default(param, catalogue)
        if value is None and param.get("required"):
            raise _Refused("This parameter is required.")
        return value
    value = KINDS[kind](param, given, catalogue)
    if existing is not None and value != before:
        if param.get("immutable"):
            raise _Refused("Set only when the platform is created; it cannot be changed.")
        if kind in BOOLEANS and param.get("permanent") and before and not value:
            raise _Refused("Once on, this cannot be turned off.")
    return value


def platform_services(ptype: PlatformType, values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The services the cleaned `values` turn on: those whose `when` (a map of parameter
    to value, all of which must hold) is met; no expression is ever evaluated."""
    return [
        service
        for service in ptype.services
        if all(values.get(name) == wanted for name, wanted in service.get("when", {}).items())
    ]


def platform_params_shown(ptype: PlatformType, values: Mapping[str, Any]) -> dict[str, Any]:
    """The values as pages and the API may show them: secrets masked."""
    secret = {p["name"] for p in ptype.parameters if p.get("secret")}
    return {k: SECRET_MASK if k in secret and not _empty(v) else v for k, v in values.items()}


def platform_quota_projection(ptype: PlatformType, values: Mapping[str, Any], *, tenancy: Tenancy) -> dict[str, int]:
    """What a platform with these cleaned values would take of the tenancy's quotas (the
    resource names of apps.catalogue.quotas): per cloud size, its `count_parameter`
    machines (one without) of its CPUs and RAM; per volume size, as many volumes of it;
    per external IP asked for, as many addresses."""
    want = dict.fromkeys(("machines", "cpus", "ram_mb", "volumes", "volume_gb", "external_ips"), 0)
    catalogue = catalogue_cached(tenancy=tenancy)
    sizes = {s["id"]: s for s in catalogue.sizes}
    for param in ptype.parameters:
        value = values.get(param["name"])
        count = values.get(param["count_parameter"]) if param.get("count_parameter") else 1
        count = count if isinstance(count, int) else 0
        if param["kind"] == "cloud_size" and value in sizes:
            want["machines"] += count
            want["cpus"] += sizes[value]["cpus"] * count
            want["ram_mb"] += sizes[value]["ram_mb"] * count
        elif param["kind"] == "volume_size" and value:
            want["volumes"] += count
            want["volume_gb"] += value * count
        elif param["kind"] == "external_ip" and value:
            want["external_ips"] += count
    return want
