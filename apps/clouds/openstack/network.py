"""The OpenStack network family (Neutron): the project's network, made on first use;
external IPs (floating IPs); and each machine's own firewall: the project's shared security
group (the default rules) until its rules first change, then a security group of its own."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from .. import dto
from ..base import FIREWALL_DEFAULT_RULES, Pause, shared_rules
from ..errors import InvalidOperation, NotFound
from . import sdk
from .base import OpenStackBase
from .convert import firewall_rule_dto, ip_dto, network_dto, parse_when
from .sdk import translate_errors

#: Marks the security groups that are one machine's own firewall (Atrium made them; it removes them).
FIREWALL_MARK = "Atrium: one machine's own firewall, removed with it."
#: Marks the security group a project's machines share while their rules are the defaults.
FIREWALL_SHARED_MARK = "Atrium: the firewall a project's machines share while their rules are the defaults."
#: The server metadata key naming the machine's firewall's security group ...
FIREWALL_METADATA = "atrium_firewall"
#: ... and the one saying whether that is the shared group ("true") or the machine's own.
FIREWALL_SHARED_METADATA = "atrium_firewall_shared"
#: How long deleting a machine waits for Nova to let go of its firewall before leaving it to a later sweep.
FIREWALL_RELEASE_SECONDS = 60.0
#: A firewall no port uses is swept only when older than this (younger ones may be a boot in progress).
FIREWALL_SWEEP_AGE = timedelta(hours=1)


class OpenStackNetwork(OpenStackBase):
    @translate_errors
    def networks(self) -> list[dto.Network]:
        net = self._conn.network
        cidrs = {subnet.network_id: subnet.cidr for subnet in net.subnets(ip_version=4)}
        seen: dict[str, dto.Network] = {}
        for network in [*net.networks(project_id=self._project), *net.networks(is_router_external=True)]:
            seen[network.id] = network_dto(network, cidrs.get(network.id, ""))
        return list(seen.values())

    @translate_errors
    def tenant_network(self) -> dto.Network:
        """The project's network (the first it owns that is not external); made, with a
        subnet and a router to the external network, when it has none, as Azimuth does."""
        own = self._own_network()
        if own is not None:
            return own
        # The first machines of a new project are often asked for together: one job
        # makes the network while the others wait on the target's lock, then find it.
        with self.target.lock():
            return self._own_network() or self._network_create()

    def _own_network(self) -> dto.Network | None:
        """The project's first network with an IPv4 subnet (one without is no use to a machine,
        and may be one that another job is still setting up)."""
        for network in self._conn.network.networks(project_id=self._project):
            if network.is_router_external:
                continue
            subnets = list(self._conn.network.subnets(network_id=network.id, ip_version=4))
            if subnets:
                return network_dto(network, subnets[0].cidr)
        return None

    def _network_create(self) -> dto.Network:
        net = self._conn.network
        external = self._external_network()
        options = self._options
        name = str(options.get("network_name", "atrium-internal"))
        network = net.create_network(name=name)
        subnet = net.create_subnet(
            name=f"{name}-subnet",
            network_id=network.id,
            ip_version=4,
            cidr=str(options.get("network_cidr", "192.168.3.0/24")),
        )
        router = net.create_router(name=f"{name}-router", external_gateway_info={"network_id": external.id})
        net.add_interface_to_router(router, subnet=subnet.id)
        return network_dto(network, subnet.cidr)

    def _external_network(self) -> Any:
        for network in self._conn.network.networks(is_router_external=True):
            return network
        raise InvalidOperation("The cloud has no external network to reach the internet through.")

    # A machine's own firewall: the project's shared security group until its rules change -----

    def _shared_group(self) -> Any | None:
        for group in self._conn.network.security_groups(project_id=self._project, description=FIREWALL_SHARED_MARK):
            return group
        return None

    @translate_errors
    def firewall_shared(self) -> dto.SharedFirewall:
        """Two calls when it exists (the group, its rules); made once per project. Callers keep it."""
        group = self._shared_group()
        if group is None:
            with self.target.lock():  # first creates of a project race to make it: one does
                group = self._shared_group() or firewall_create(
                    self._conn, "atrium-default", description=FIREWALL_SHARED_MARK
                )
        return dto.SharedFirewall(id=group.id, rules=tuple(self._firewall_rules(group.id)))

    def _firewall_of(self, machine_id: str) -> tuple[Any, str, bool]:
        """The server, its firewall's security group, and whether that is the shared one."""
        server = self._conn.compute.get_server(machine_id)
        metadata = server.metadata or {}
        group_id = metadata.get(FIREWALL_METADATA)
        if not group_id:
            raise InvalidOperation(
                f"The machine {server.name} was not made by Atrium, so it has no firewall of its own here; "
                "its security groups are managed in OpenStack."
            )
        return server, str(group_id), metadata.get(FIREWALL_SHARED_METADATA) == "true"

    def _firewall_rules(self, group_id: str) -> list[dto.FirewallRule]:
        rules = self._conn.network.security_group_rules(security_group_id=group_id, direction="ingress")
        return [firewall_rule_dto(rule) for rule in rules]

    def _machine_rules(self, server_id: str, group_id: str, shared: bool) -> list[dto.FirewallRule]:
        rules = self._firewall_rules(group_id)
        return shared_rules(server_id, dto.SharedFirewall(id=group_id, rules=tuple(rules))) if shared else rules

    @translate_errors
    def machine_firewall(self, *, machine_id: str) -> list[dto.FirewallRule]:
        server, group_id, shared = self._firewall_of(machine_id)
        return self._machine_rules(server.id, group_id, shared)

    @translate_errors
    def machine_firewall_shared(self, *, machine_id: str) -> bool:
        return self._firewall_of(machine_id)[2]

    @translate_errors
    def machine_firewalls(self, *, machine_ids: Sequence[str]) -> dict[str, list[dto.FirewallRule] | None]:
        # Three calls whatever the number of machines: Atrium's groups, their rules, and the
        # ports that say which server is in which group.
        net = self._conn.network
        marks = {FIREWALL_MARK, FIREWALL_SHARED_MARK}
        groups = {
            g.id: g.description == FIREWALL_SHARED_MARK
            for g in net.security_groups(project_id=self._project)
            if g.description in marks
        }
        rules: dict[str, list[dto.FirewallRule]] = {group: [] for group in groups}
        for rule in net.security_group_rules(project_id=self._project, direction="ingress"):
            if rule.security_group_id in rules:
                rules[rule.security_group_id].append(firewall_rule_dto(rule))
        wanted = set(machine_ids)
        found: dict[str, list[dto.FirewallRule] | None] = {}
        for port in net.ports(project_id=self._project):
            server_id = port.device_id
            if server_id not in wanted or not str(port.device_owner or "").startswith("compute:"):
                continue
            atriums = [group for group in port.security_group_ids or [] if group in rules]
            own = [group for group in atriums if not groups[group]]  # one of its own wins over the shared
            if own or atriums:
                group = (own or atriums)[0]
                shared = dto.SharedFirewall(id=group, rules=tuple(rules[group]))
                found[server_id] = shared_rules(server_id, shared) if groups[group] else rules[group]
            else:
                found.setdefault(server_id, None)
        return found

    def _firewall_own(self, server: Any, shared_id: str, *, leave_out: str | None = None) -> str:
        """Give a machine in the shared firewall a security group of its own with the shared rules
        (but `leave_out`, a shared rule's id) and move it there: the group, its rules, two server
        actions and a metadata update. Its rules' ids change."""
        copies = [rule for rule in self._firewall_rules(shared_id) if rule.id != leave_out]
        group = firewall_create(
            self._conn,
            f"atrium-{server.name}",
            rules=[(rule.protocol, rule.port_min, rule.port_max, rule.remote_cidr) for rule in copies],
        )
        compute = self._conn.compute
        try:
            compute.add_security_group_to_server(server, group.id)
        except Exception:
            with contextlib.suppress(*sdk.CLIENT_ERRORS):
                self._conn.network.delete_security_group(group)
            raise
        compute.remove_security_group_from_server(server, shared_id)
        compute.set_server_metadata(server, **{FIREWALL_METADATA: group.id, FIREWALL_SHARED_METADATA: "false"})
        return str(group.id)

    @translate_errors
    def _machine_firewall_rule_add(self, *, machine_id: str, rule: dto.FirewallRuleSpec) -> dto.FirewallRule:
        server, group_id, shared = self._firewall_of(machine_id)
        wanted = (rule.protocol.value, rule.port_min, rule.port_max, rule.remote_cidr)
        if any(r.key == wanted for r in self._firewall_rules(group_id)):
            raise InvalidOperation("The machine's firewall already lets that in.")
        if shared:
            group_id = self._firewall_own(server, group_id)
        made = firewall_rule_create(self._conn, group_id, rule.protocol, rule.port_min, rule.port_max, rule.remote_cidr)
        return firewall_rule_dto(made)

    @translate_errors
    def machine_firewall_rule_remove(self, *, machine_id: str, rule_id: str) -> None:
        server, group_id, shared = self._firewall_of(machine_id)
        if shared:
            owner, _, shared_rule = rule_id.partition("/")
            if owner != server.id or shared_rule not in {r.id for r in self._firewall_rules(group_id)}:
                raise NotFound(f"The machine has no firewall rule {rule_id}.")
            self._firewall_own(server, group_id, leave_out=shared_rule)
            return
        rule = self._conn.network.get_security_group_rule(rule_id)
        if rule.security_group_id != group_id or rule.direction != "ingress":
            raise NotFound(f"The machine has no firewall rule {rule_id}.")
        self._conn.network.delete_security_group_rule(rule, ignore_missing=False)

    # External IPs ----------------------------------------------------------------------

    def _port_devices(self) -> dict[str, str]:
        return {port.id: port.device_id for port in self._conn.network.ports(project_id=self._project)}

    @translate_errors
    def external_ips(self) -> list[dto.ExternalIp]:
        devices = self._port_devices()
        return [ip_dto(ip, devices) for ip in self._conn.network.ips(project_id=self._project)]

    def _get_ip(self, ip_id: str) -> Any:
        return self._conn.network.get_ip(ip_id)

    @translate_errors
    def external_ip_allocate(self) -> dto.ExternalIp:
        ip = self._conn.network.create_ip(floating_network_id=self._external_network().id)
        return ip_dto(ip, {})

    @translate_errors
    def external_ip_attach(self, *, ip_id: str, machine_id: str) -> dto.ExternalIp:
        ip = self._get_ip(ip_id)
        server = self._conn.compute.get_server(machine_id)
        ports = list(self._conn.network.ports(device_id=server.id))
        if not ports:
            raise InvalidOperation(f"The machine {server.name} has no network port to attach an address to yet.")
        if ip.port_id and ip.port_id != ports[0].id:
            raise InvalidOperation(f"The address {ip.floating_ip_address} is attached to another machine.")
        ip = self._conn.network.update_ip(ip, port_id=ports[0].id)
        return ip_dto(ip, {ports[0].id: server.id})

    @translate_errors
    def external_ip_detach(self, *, ip_id: str) -> dto.ExternalIp:
        ip = self._conn.network.update_ip(self._get_ip(ip_id), port_id=None)
        return ip_dto(ip, {})

    @translate_errors
    def external_ip_release(self, *, ip_id: str) -> None:
        self._conn.network.delete_ip(ip_id, ignore_missing=False)


# The firewall's life outside its operations: made with the machine, released after it -----


def firewall_create(
    conn: sdk.Connection,
    name: str,
    *,
    description: str = FIREWALL_MARK,
    rules: Sequence[tuple[dto.FirewallProtocol, int | None, int | None, str]] = FIREWALL_DEFAULT_RULES,
) -> Any:
    """A security group made by Atrium (a machine's own, by default; `description` marks which
    kind), with `rules`."""
    net = conn.network
    group = net.create_security_group(name=name[:255], description=description)
    try:
        for protocol, port_min, port_max, cidr in rules:
            firewall_rule_create(conn, group.id, protocol, port_min, port_max, cidr)
    except Exception:
        with contextlib.suppress(*sdk.CLIENT_ERRORS):
            net.delete_security_group(group)
        raise
    return group


def firewall_rule_create(
    conn: sdk.Connection,
    group_id: str,
    protocol: dto.FirewallProtocol,
    port_min: int | None,
    port_max: int | None,
    cidr: str,
) -> Any:
    ipv6 = ":" in cidr
    neutron_protocol: str | None = protocol.value
    if protocol == dto.FirewallProtocol.ANY:
        neutron_protocol = None
    elif protocol == dto.FirewallProtocol.ICMP and ipv6:
        neutron_protocol = "ipv6-icmp"
    return conn.network.create_security_group_rule(
        security_group_id=group_id,
        direction="ingress",
        ethertype="IPv6" if ipv6 else "IPv4",
        protocol=neutron_protocol,
        port_range_min=port_min,
        port_range_max=port_max,
        remote_ip_prefix=cidr,
    )


def _server_exists(conn: sdk.Connection, server_id: str) -> bool:
    """Whether Nova still has the server: a get by id (`find_server(ignore_missing=True)` is
    deprecated in openstacksdk 4, and would also search by name)."""
    try:
        conn.compute.get_server(server_id)
    except sdk.CLIENT_ERRORS as exc:
        if isinstance(sdk.translate(exc), NotFound):
            return False
        raise
    return True


def firewall_release(
    conn: sdk.Connection, project: str, server_id: str, group_id: str, *, pause: Pause = time.sleep
) -> None:
    """Delete a deleted machine's firewall once Nova has let go of it (bounded; waiting with
    `pause`, which a job's cancel interrupts), then any other old Atrium firewall left
    behind with no port using it."""
    deadline = time.monotonic() + FIREWALL_RELEASE_SECONDS
    while _server_exists(conn, server_id):
        if time.monotonic() > deadline:
            break
        pause(1)
    net = conn.network
    groups = list(net.security_groups(project_id=project, description=FIREWALL_MARK))
    in_use = {group for port in net.ports(project_id=project) for group in port.security_group_ids or []}
    old = datetime.now(UTC) - FIREWALL_SWEEP_AGE
    for group in groups:
        created = parse_when(group.created_at)
        mine = group.id == group_id
        if group.id in in_use or not (mine or (created is not None and created < old)):
            continue
        with contextlib.suppress(*sdk.CLIENT_ERRORS):
            net.delete_security_group(group)
