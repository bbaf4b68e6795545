"""A driver's `Capabilities` as the catalogue keeps it: every field, as JSON, and back.

`capabilities_to_dict` stores every field the dataclass has (`dataclasses.asdict`), so a
field added to `Capabilities` is cached without a change here. `capabilities_from_dict`
reads any row written before: a field it lacks takes the dataclass's default (until the
next refresh fills it in), a field it no longer knows is ignored, and a console kind it
does not know reads as none.
"""

import dataclasses
from collections.abc import Mapping
from typing import Any

from apps.clouds import dto
from apps.clouds.base import Capabilities

__all__ = ["Capabilities", "capabilities_from_dict", "capabilities_to_dict"]

_FIELDS = {f.name: f for f in dataclasses.fields(Capabilities)}


def capabilities_to_dict(capabilities: Capabilities) -> dict[str, Any]:
    """Every field as plain JSON (enums as their values)."""
    return {
        name: value.value if isinstance(value, dto.ConsoleKind) else value
        for name, value in dataclasses.asdict(capabilities).items()
    }


def _console(value: Any) -> dto.ConsoleKind | None:
    try:
        return dto.ConsoleKind(value) if value else None
    except ValueError:
        return None


def capabilities_from_dict(data: Mapping[str, Any] | None) -> Capabilities:
    """The `Capabilities` a cached dict describes (tolerant of older and newer rows)."""
    data = data or {}
    values: dict[str, Any] = {}
    for name in _FIELDS:
        if name not in data:
            continue  # an older row: the default
        values[name] = _console(data[name]) if name == "console" else data[name]
    return Capabilities(**values)
