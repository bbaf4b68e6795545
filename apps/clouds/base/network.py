"""The network family: the project's networks, external IPs and each machine's own firewall."""

from __future__ import annotations

import abc
import ipaddress
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar

from .. import dto
from ..errors import BadInput
from .core import DriverCore, unsupported_as

#: What a new machine's own firewall lets in: SSH and ping, from anywhere.
FIREWALL_DEFAULT_RULES: tuple[tuple[dto.FirewallProtocol, int | None, int | None, str], ...] = (
    (dto.FirewallProtocol.TCP, 22, 22, "0.0.0.0/0"),
    (dto.FirewallProtocol.ICMP, None, None, "0.0.0.0/0"),
)


def shared_rule_id(machine_id: str, rule_id: str) -> str:
    """The id a rule of the shared firewall has as one machine's rule: machines in the shared
    firewall list its rules each under their own ids (one row per machine and rule in Atrium)."""
    return f"{machine_id}/{rule_id}"


def shared_rules(machine_id: str, shared: dto.SharedFirewall) -> list[dto.FirewallRule]:
    """The shared firewall's rules as the rules of the machine `machine_id` in it (no cloud call)."""
    return [replace(rule, id=shared_rule_id(machine_id, rule.id)) for rule in shared.rules]


def in_shared_firewall(machine_id: str, rules: Sequence[dto.FirewallRule]) -> bool:
    """Whether `rules`, as a driver lists a machine's, are those of the shared firewall (each
    under a `shared_rule_id`), not of a group of the machine's own."""
    return bool(rules) and all(rule.id.startswith(shared_rule_id(machine_id, "")) for rule in rules)


def firewall_rule_clean(
    *, protocol: str, port_min: int | None, port_max: int | None, remote_cidr: str | None
) -> tuple[dto.FirewallProtocol, int | None, int | None, str]:
    """A firewall rule as every driver stores it, or BadInput naming the wrong fields.

    Ports go with TCP and UDP only; one port may be given as `port_min` alone;
    the remote range is an IPv4 or IPv6 network (a bare address means just it)."""
    errors: dict[str, list[str]] = {}
    try:
        kind = dto.FirewallProtocol(protocol)
    except ValueError:
        choices = ", ".join(p.value for p in dto.FirewallProtocol)
        raise BadInput(f"Unknown protocol {protocol!r}.", fields={"protocol": [f"One of {choices}."]}) from None
    if kind.has_ports:
        if port_min is None:
            errors["port_min"] = ["TCP and UDP rules need a port."]
        port_max = port_min if port_max is None else port_max
        for field_name, port in (("port_min", port_min), ("port_max", port_max)):
            if port is not None and not 1 <= port <= 65535:
                errors[field_name] = ["A port from 1 to 65535."]
        if port_min is not None and port_max is not None and port_max < port_min and "port_max" not in errors:
            errors["port_max"] = ["Not below the first port."]
    elif port_min is not None or port_max is not None:
        errors["port_min"] = [f"{kind.value.upper()} rules have no ports."]
    cidr = (remote_cidr or "").strip() or "0.0.0.0/0"
    try:
        cidr = str(ipaddress.ip_network(cidr, strict=False))
    except ValueError:
        errors["remote_cidr"] = ["An address or network, such as 192.0.2.0/24."]
    if errors:
        raise BadInput("That firewall rule is not valid.", fields=errors)
    return kind, port_min, port_max, cidr


class NetworkDriver(DriverCore):
    #: external_ips: `external_ip*`; firewall: `machine_firewall*`.
    capability_flags: ClassVar[tuple[str, ...]] = ("external_ips", "firewall")

    @abc.abstractmethod
    def networks(self) -> list[dto.Network]:
        """The networks the project can use: its own and the external one(s)."""

    @abc.abstractmethod
    def tenant_network(self) -> dto.Network:
        """The project's network for new machines (made, with a router, if it has none)."""

    # A machine's own firewall ------------------------------------------------------------
    # Drivers that offer it start every machine they create in the project's shared firewall
    # (one security group with FIREWALL_DEFAULT_RULES, `firewall_shared`), so a project's
    # machines fit the cloud's security-group quota. To the caller each machine still has a
    # firewall of its own: it lists the shared rules under ids of its own (`shared_rule_id`),
    # and the first change of its rules (adding or removing one) gives it a group of its own
    # with the same rules plus the change (one more security group against the quota; removed
    # with the machine). Rule ids change then: read the machine's firewall again.

    optional_operations: ClassVar[dict[str, str]] = {
        **unsupported_as(
            "machine firewalls",
            (
                "firewall_shared",
                "machine_firewall",
                "machine_firewalls",
                "machine_firewall_shared",
                "_machine_firewall_rule_add",
                "machine_firewall_rule_remove",
            ),
        ),
        **unsupported_as(
            "external IPs",
            ("external_ips", "external_ip_allocate", "external_ip_attach", "external_ip_detach", "external_ip_release"),
        ),
    }

    if TYPE_CHECKING:

        def firewall_shared(self) -> dto.SharedFirewall:
            """The project's shared firewall, made (with FIREWALL_DEFAULT_RULES) if it has none."""

        def machine_firewall_shared(self, *, machine_id: str) -> bool:
            """Whether the machine is in the shared firewall (its rules are still the defaults)."""

        def machine_firewall(self, *, machine_id: str) -> list[dto.FirewallRule]:
            """The machine's inbound rules; InvalidOperation for a machine made outside Atrium."""

        def machine_firewalls(self, *, machine_ids: Sequence[str]) -> dict[str, list[dto.FirewallRule] | None]:
            """The firewalls of many machines in a few calls (the sync's way): for each machine
            found, its inbound rules, or None when it has no firewall of its own. Machines the
            driver cannot tell about yet (gone, or still without a network port) are left out."""

        def _machine_firewall_rule_add(self, *, machine_id: str, rule: dto.FirewallRuleSpec) -> dto.FirewallRule: ...
        def machine_firewall_rule_remove(self, *, machine_id: str, rule_id: str) -> None: ...

        # External IPs ---------------------------------------------------------------------

        def external_ips(self) -> list[dto.ExternalIp]: ...
        def external_ip_allocate(self) -> dto.ExternalIp: ...
        def external_ip_attach(self, *, ip_id: str, machine_id: str) -> dto.ExternalIp: ...
        def external_ip_detach(self, *, ip_id: str) -> dto.ExternalIp: ...
        def external_ip_release(self, *, ip_id: str) -> None: ...

    def machine_firewall_rule_add(
        self,
        *,
        machine_id: str,
        protocol: str,
        port_min: int | None = None,
        port_max: int | None = None,
        remote_cidr: str | None = None,
    ) -> dto.FirewallRule:
        """Let more in (checked here with `firewall_rule_clean`, once; the driver's
        `_machine_firewall_rule_add` gets a `dto.FirewallRuleSpec`); a rule the machine
        already has is InvalidOperation."""
        kind, low, high, cidr = firewall_rule_clean(
            protocol=protocol, port_min=port_min, port_max=port_max, remote_cidr=remote_cidr
        )
        rule = dto.FirewallRuleSpec(protocol=kind, port_min=low, port_max=high, remote_cidr=cidr)
        return self._machine_firewall_rule_add(machine_id=machine_id, rule=rule)
