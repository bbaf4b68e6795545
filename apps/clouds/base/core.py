"""What every driver has, whatever it offers: its target, its capabilities, and
the way it says it does not offer something."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, NoReturn

from .. import dto
from ..errors import BadInput, Unsupported
from ..target import Target

#: How a driver waits for the cloud: `pause(seconds)`; jobs pass theirs, which a cancel interrupts.
Pause = Callable[[float], None]


def unsupported_as(what: str, names: Iterable[str]) -> dict[str, str]:
    """Table rows for `DriverCore.optional_operations`: these operations, none offered as `what`."""
    return dict.fromkeys(names, what)


def _unsupported_default(name: str, what: str) -> Callable[..., NoReturn]:
    def default(self: DriverCore, /, *args: object, **kwargs: object) -> NoReturn:
        self._unsupported(what)

    default.__name__ = name
    default.__doc__ = f"Unsupported unless the driver offers {what}."
    return default


def require_aware(**moments: datetime) -> None:
    """Times given to a cloud must say their time zone (BadInput otherwise)."""
    for name, moment in moments.items():
        if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
            raise BadInput(f"The {name} time must include a time zone.", fields={name: ["Needs a time zone."]})


@dataclass(frozen=True)
class Capabilities:
    """What a driver (for this cloud and project) can do beyond machines. Each flag
    belongs to one family (its `capability_flags`), beside the operations it tells about."""

    external_ips: bool = False
    #: Each machine Atrium makes has its own firewall (inbound rules) to edit.
    firewall: bool = False
    volumes: bool = False
    keypairs: bool = False
    console_log: bool = False
    console: dto.ConsoleKind | None = None
    kubernetes: bool = False
    leases: bool = False
    host_capacity: bool = False


class DriverCore(abc.ABC):
    """A driver bound to one project on one cloud (its `Target`)."""

    #: The value of `Cloud.driver` this class serves.
    name: ClassVar[str]
    #: The `Capabilities` fields saying which of this family's optional operations a driver offers.
    capability_flags: ClassVar[tuple[str, ...]] = ()
    #: The family's optional operations, each with what a driver that does not implement it
    #: "does not offer" (its `Unsupported`). Their signatures are declared for type checking
    #: only; the defaults are made from this table.
    optional_operations: ClassVar[Mapping[str, str]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        for name, what in cls.__dict__.get("optional_operations", {}).items():
            if name not in cls.__dict__:
                setattr(cls, name, _unsupported_default(name, what))

    def __init__(self, *, target: Target):
        self.target = target
        self.project_id = target.project_id
        #: Who the driver acts for; only clouds with per-user federation use it.
        self.user = target.user

    def _unsupported(self, what: str) -> NoReturn:
        raise Unsupported(f"{self.target.cloud_name} does not offer {what}.")

    @abc.abstractmethod
    def capabilities(self) -> Capabilities: ...
