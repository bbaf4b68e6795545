"""The local cloud's network family: the project's network, external IPs taken from
the external network, and each machine's own firewall (the project's shared one, with
the default rules, until the machine's rules change)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from django.db import transaction
from django.db.models import Q, QuerySet

from .. import dto
from ..base import FIREWALL_DEFAULT_RULES, shared_rules
from ..errors import InvalidOperation, NotFound
from ..models import LocalExternalIp, LocalFirewallRule, LocalMachine, LocalNetwork
from .base import LocalBase, operation
from .convert import firewall_rule_dto, ip_dto, network_dto

S = dto.MachineStatus

#: The id of a project's shared firewall on the local cloud (one per project, always there).
SHARED_FIREWALL = "shared"
SHARED = dto.SharedFirewall(
    id=SHARED_FIREWALL,
    rules=tuple(
        dto.FirewallRule(id=f"shared-{index}", protocol=protocol, port_min=low, port_max=high, remote_cidr=cidr)
        for index, (protocol, low, high, cidr) in enumerate(FIREWALL_DEFAULT_RULES)
    ),
)


class LocalNetworks(LocalBase):
    @operation
    def networks(self) -> list[dto.Network]:
        networks = LocalNetwork.objects.filter(cloud_id=self.cloud_id).filter(
            Q(external=True) | Q(project_id=self.project_id)
        )
        return [network_dto(network) for network in networks]

    @operation
    def tenant_network(self) -> dto.Network:
        return network_dto(self._tenant_network())

    # A machine's own firewall: the project's shared one until its rules change ---------------

    @operation
    def firewall_shared(self) -> dto.SharedFirewall:
        return SHARED

    @operation
    def machine_firewall_shared(self, *, machine_id: str) -> bool:
        return self._machine(machine_id).firewall_shared

    @staticmethod
    def _rules(machine: LocalMachine) -> list[dto.FirewallRule]:
        if machine.firewall_shared:
            return shared_rules(machine.uid, SHARED)
        return [firewall_rule_dto(rule) for rule in machine.firewall_rules.all()]

    @operation
    def machine_firewall(self, *, machine_id: str) -> list[dto.FirewallRule]:
        return self._rules(self._machine(machine_id))

    @operation
    def machine_firewalls(self, *, machine_ids: Sequence[str]) -> dict[str, list[dto.FirewallRule] | None]:
        machines = self._machines().filter(uid__in=machine_ids).prefetch_related("firewall_rules")
        return {machine.uid: self._rules(machine) for machine in machines}

    def _firewall_own(self, machine: LocalMachine, *, leave_out: str | None = None) -> None:
        """Give the machine (locked, in the shared firewall) a firewall of its own with copies of
        the shared rules (but `leave_out`, one of its ids for them), under new ids as on OpenStack;
        one more security group against the quota."""
        self._check_quota(firewalls=1)
        LocalFirewallRule.objects.bulk_create(
            LocalFirewallRule(
                machine=machine,
                protocol=rule.protocol.value,
                port_min=rule.port_min,
                port_max=rule.port_max,
                remote_cidr=rule.remote_cidr,
            )
            for rule in shared_rules(machine.uid, SHARED)
            if rule.id != leave_out
        )
        machine.firewall_shared = False
        machine.save(update_fields=["firewall_shared"])

    @operation
    def _machine_firewall_rule_add(self, *, machine_id: str, rule: dto.FirewallRuleSpec) -> dto.FirewallRule:
        with transaction.atomic():
            machine = self._machine(machine_id, lock=True)
            wanted = (rule.protocol.value, rule.port_min, rule.port_max, rule.remote_cidr)
            if machine.firewall_shared:
                if any(r.key == wanted for r in SHARED.rules):
                    raise InvalidOperation(f"The machine {machine.name} already lets that in.")
                self._firewall_own(machine)
            row, made = LocalFirewallRule.objects.get_or_create(
                machine=machine,
                protocol=rule.protocol,
                port_min=rule.port_min,
                port_max=rule.port_max,
                remote_cidr=rule.remote_cidr,
            )
        if not made:
            raise InvalidOperation(f"The machine {machine.name} already lets that in.")
        return firewall_rule_dto(row)

    @operation
    def machine_firewall_rule_remove(self, *, machine_id: str, rule_id: str) -> None:
        with transaction.atomic():
            machine = self._machine(machine_id, lock=True)
            if machine.firewall_shared:
                if rule_id not in {r.id for r in shared_rules(machine.uid, SHARED)}:
                    raise NotFound(f"The machine has no firewall rule {rule_id}.")
                self._firewall_own(machine, leave_out=rule_id)
                return
            deleted, _ = LocalFirewallRule.objects.filter(machine=machine, uid=rule_id).delete()
        if not deleted:
            raise NotFound(f"The machine has no firewall rule {rule_id}.")

    # External IPs --------------------------------------------------------------------------

    def _ips(self) -> QuerySet[LocalExternalIp]:
        return self._project_rows(LocalExternalIp).select_related("machine")

    def _ip(self, ip_id: str) -> LocalExternalIp:
        return self._project_row(self._ips(), ip_id, "external IP")

    @operation
    def external_ips(self) -> list[dto.ExternalIp]:
        return [ip_dto(ip) for ip in self._ips()]

    @operation
    def external_ip_allocate(self) -> dto.ExternalIp:
        external = LocalNetwork.objects.filter(cloud_id=self.cloud_id, external=True).first()
        if external is None:
            raise InvalidOperation("This cloud has no external network to take addresses from.")
        with transaction.atomic():
            self._check_quota(external_ips=1)
            used = set(LocalExternalIp.objects.filter(cloud_id=self.cloud_id).values_list("address", flat=True))
            try:
                address = next_address(external.cidr, used)
            except InvalidOperation as exc:
                raise InvalidOperation("The external network has no free addresses left.") from exc
            ip = LocalExternalIp.objects.create(cloud_id=self.cloud_id, project_id=self.project_id, address=address)
        return ip_dto(ip)

    @operation
    def external_ip_attach(self, *, ip_id: str, machine_id: str) -> dto.ExternalIp:
        with transaction.atomic():
            ip = self._ip(ip_id)
            machine = self._machine(machine_id, lock=True)
            if ip.machine_id is not None and ip.machine_id != machine.pk:
                raise InvalidOperation(f"The address {ip.address} is already attached to {ip.machine}.")
            if machine.external_ips.exclude(pk=ip.pk).exists():
                raise InvalidOperation(f"The machine {machine.name} already has an external IP.")
            if machine.status in (S.BUILD, S.ERROR) and machine.settles_to != S.ACTIVE:
                raise InvalidOperation(f"The machine {machine.name} is {machine.status}; it has no port to attach to.")
            ip.machine = machine
            ip.save(update_fields=["machine"])
        return ip_dto(ip)

    @operation
    def external_ip_detach(self, *, ip_id: str) -> dto.ExternalIp:
        ip = self._ip(ip_id)
        ip.machine = None
        ip.save(update_fields=["machine"])
        return ip_dto(ip)

    @operation
    def external_ip_release(self, *, ip_id: str) -> None:
        self._ip(ip_id).delete()


def used_internal(network: LocalNetwork) -> set[str]:
    return set(LocalMachine.objects.filter(network=network).values_list("internal_ip", flat=True))


def next_address(cidr: str, used: set[str]) -> str:
    """The first free address of `cidr`, after the network address and the gateway (.1)."""
    net = ipaddress.ip_network(cidr)
    for index, address in enumerate(net.hosts()):
        if index >= 9 and str(address) not in used:  # .1-.9 for the gateway and services, as clouds do
            return str(address)
    raise InvalidOperation(f"The network {cidr} has no free addresses left.")
