"""Reading platform types from ATRIUM_PLATFORM_TYPES_DIR (default: the repository's
terraform/): each folder with a `platform.yaml`, checked against
terraform/platform.schema.json and a few rules a schema cannot say, and stored as
`PlatformType` rows.

`platform_types_sync()` writes the rows; `manage.py platform_types_sync` runs it (fails
naming each refused file, and retires the types whose folder is gone), and the selectors
run it lazily: every read of the catalogue compares the folders' digests with the rows'
and loads what is new or changed, so an edited type is seen at the next page without a
restart or a command.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from django.conf import settings
from django.db import IntegrityError, transaction

from apps.core.errors import ApplicationError

from .models import PlatformType

logger = logging.getLogger(__name__)
SCHEMA_PATH = Path(settings.BASE_DIR) / "terraform" / "platform.schema.json"
SPEC_FILE = "platform.yaml"
LOGO_TYPES = {".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
LOGO_MAX_BYTES = 64 * 1024
#: Parameters a `count_parameter` may name.
COUNTABLE = {"integer"}


class _YamlLoader(yaml.SafeLoader):
    """YAML's safe loader, but a date stays the text it is (`date: 2026-12-05` in a changelog)."""


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class PlatformTypeInvalid(ApplicationError):
    """A platform.yaml Atrium refuses: the message names the file and the field."""

    def __init__(self, path: Path, field: str, problem: str):
        super().__init__(f"{path}: {field or '(top level)'}: {problem}")
        self.path = path
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class Loaded:
    """One folder as read: its spec and logo, or why it was refused."""

    name: str
    digest: str
    spec: dict[str, Any] | None = None
    logo: str = ""
    error: str = ""


@cache
def platform_schema() -> dict[str, Any]:
    import json

    return dict(json.loads(SCHEMA_PATH.read_text()))


def types_dir() -> Path:
    return Path(settings.ATRIUM_PLATFORM_TYPES_DIR)


def _field_path(parts: Any) -> str:
    """`parameters[2].min_length` from a jsonschema error's absolute path."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out


def _named(spec: dict[str, Any], path: str) -> str:
    """`parameters[2]` becomes `parameters[2] (size)`: which one a person sees in the file."""
    match = re.match(r"^(parameters|services)\[(\d+)\]", path)
    if match:
        try:
            name = spec[match[1]][int(match[2])]["name"]
        except (KeyError, IndexError, TypeError):
            return path
        return path.replace(match[0], f"{match[0]} ({name})", 1)
    return path


def spec_check(spec: Any, path: Path, folder: str) -> dict[str, Any]:
    """The spec if the schema and the cross-field rules accept it; PlatformTypeInvalid
    naming the first problem's field otherwise."""
    validator = jsonschema.Draft202012Validator(platform_schema(), format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(spec), key=lambda e: (len(e.absolute_path), list(map(str, e.path))))
    if errors:
        error = jsonschema.exceptions.best_match(errors) or errors[0]
        field = _field_path(error.absolute_path)
        raise PlatformTypeInvalid(path, _named(spec, field) if isinstance(spec, dict) else field, error.message)
    if spec["name"] != folder:
        raise PlatformTypeInvalid(path, "name", f"{spec['name']!r} is not the folder's name {folder!r}.")
    params = {p["name"]: p for p in spec["parameters"]}
    for i, param in enumerate(spec["parameters"]):
        field = f"parameters[{i}] ({param['name']})"
        if sum(p["name"] == param["name"] for p in spec["parameters"]) > 1:
            raise PlatformTypeInvalid(path, f"{field}.name", "Two parameters have this name.")
        counted = param.get("count_parameter")
        if counted is not None and params.get(counted, {}).get("kind") not in COUNTABLE:
            raise PlatformTypeInvalid(path, f"{field}.count_parameter", f"{counted!r} is not an integer parameter.")
        for low, high in (("min", "max"), ("min_length", "max_length"), ("min_items", "max_items")):
            if param.get(low) is not None and param.get(high) is not None and param[low] > param[high]:
                raise PlatformTypeInvalid(path, f"{field}.{low}", f"More than {high} ({param[high]}).")
        if param.get("hidden") and param.get("required") and "default" not in param:
            raise PlatformTypeInvalid(path, f"{field}.default", "A hidden required parameter needs a default.")
    for i, service in enumerate(spec.get("services", [])):
        for name in service.get("when", {}):
            if name not in params:
                raise PlatformTypeInvalid(path, f"services[{i}] ({service['name']}).when", f"No parameter {name!r}.")
    return dict(spec)


def _logo(folder: Path, spec: dict[str, Any], path: Path) -> str:
    if not spec.get("logo"):
        return ""
    logo = folder / spec["logo"]
    if not logo.is_file():
        raise PlatformTypeInvalid(path, "logo", f"No file {spec['logo']} in {folder}.")
    data = logo.read_bytes()
    if len(data) > LOGO_MAX_BYTES:
        raise PlatformTypeInvalid(path, "logo", f"{spec['logo']} is over {LOGO_MAX_BYTES // 1024} KB.")
    return f"data:{LOGO_TYPES[logo.suffix.lower()]};base64,{base64.b64encode(data).decode()}"


def _digest(folder: Path) -> str:
    """Of platform.yaml and the other small files beside it (the logo), not the module."""
    digest = hashlib.sha256()
    for file in sorted(folder.iterdir()):
        if file.is_file() and (file.name == SPEC_FILE or file.suffix.lower() in LOGO_TYPES):
            digest.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def platform_type_read(folder: Path) -> Loaded:
    """One folder: its checked spec and logo, or the error naming the file and the field."""
    path = folder / SPEC_FILE
    digest = _digest(folder)
    try:
        try:
            spec = yaml.load(path.read_text(), Loader=_YamlLoader)  # noqa: S506 - a SafeLoader
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}" if mark is not None else ""
            raise PlatformTypeInvalid(path, where, f"Not YAML: {getattr(exc, 'problem', exc)}") from exc
        spec = spec_check(spec, path, folder.name)
        return Loaded(name=folder.name, digest=digest, spec=spec, logo=_logo(folder, spec, path))
    except PlatformTypeInvalid as exc:
        return Loaded(name=folder.name, digest=digest, error=exc.message)


def platform_type_folders(directory: Path | None = None) -> list[Path]:
    directory = directory or types_dir()
    if not directory.is_dir():
        return []
    return sorted(f for f in directory.iterdir() if f.is_dir() and (f / SPEC_FILE).is_file())


def platform_types_read(directory: Path | None = None) -> list[Loaded]:
    return [platform_type_read(folder) for folder in platform_type_folders(directory)]


GONE = "Its folder is no longer in the platform types' directory."


@transaction.atomic
def platform_types_sync(directory: Path | None = None, *, retire: bool = True) -> list[Loaded]:
    """Store every folder's type as a row (refused ones too, with `valid=False` and the
    error). With `retire`, a row whose folder is gone is kept, marked invalid. What
    operators chose (tenancies, `available_to_all`) is left as it is. Answers what was read."""
    loaded = platform_types_read(directory)
    rows = {row.name: row for row in PlatformType.objects.select_for_update()}
    for found in loaded:
        row = rows.get(found.name) or PlatformType(name=found.name)
        if row.pk and row.source_digest == found.digest:
            continue
        spec = found.spec or {}
        row.label = spec.get("label", row.label or found.name)
        row.version = spec.get("version", row.version)
        row.description = spec.get("description", row.description)
        row.spec = spec or row.spec
        row.logo = found.logo if found.spec else row.logo
        row.valid = found.spec is not None
        row.error = found.error
        row.source_digest = found.digest
        row.save()
    if retire:
        present = {found.name for found in loaded}
        gone = PlatformType.objects.exclude(name__in=present).exclude(error=GONE)
        gone.update(valid=False, error=GONE, source_digest="")
    return loaded


def platform_types_current() -> None:
    """Load the folders that are new or changed since they were stored (lazily, from reads;
    a removed folder is retired by `manage.py platform_types_sync` only)."""
    stored = dict(PlatformType.objects.values_list("name", "source_digest"))
    if any(stored.get(folder.name) != _digest(folder) for folder in platform_type_folders()):
        try:
            platform_types_sync(retire=False)
        except IntegrityError:  # another request stored the new type at the same moment
            logger.info("Platform types were loaded by another request meanwhile.")
