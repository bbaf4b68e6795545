"""`atrium_external_ip` and `atrium_firewall_rule`, made through the tenancy's driver and written
as Atrium's ExternalIp and FirewallRule rows.

An external IP moves between machines in place (`machine_id`); a firewall rule cannot change
on the cloud: any change replaces it.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from django.conf import settings
from tf.schema import Attribute, Schema  # type: ignore[import-untyped]
from tf.types import Number, String  # type: ignore[import-untyped]

from apps.clouds import dto
from apps.clouds.base import firewall_rule_clean
from apps.clouds.errors import BadInput, CloudError, InvalidOperation, NotFound
from apps.core.resources.services import changed, row_delete, task_set
from apps.machines.jobs.firewall import firewall_left_shared
from apps.machines.jobs.ips import ip_observe
from apps.machines.models import ExternalIp, FirewallRule, Machine
from apps.machines.services import machine_observe

from .provider import AtriumResource, State, idle_after, job_log, reported, settle


class ExternalIpResource(AtriumResource):
    kind = "external_ip"
    schema = Schema(
        description="An external (floating) IP of the tenancy's cloud (Atrium's external IP row).",
        attributes=[
            Attribute("id", String(), computed=True, description="The cloud's id of the address."),
            Attribute("address", String(), computed=True),
            Attribute("machine_id", String(), optional=True, description="The machine it reaches (its id)."),
        ],
    )

    @reported(keep_prior=False)
    def create(self, ctx: Any, planned: State) -> State | None:
        ip = ExternalIp.objects.create(tenancy=self.tenancy, task="allocating")
        changed(ip, created=True)
        try:
            seen = self.driver.external_ip_allocate()
        except CloudError:
            row_delete(ip)
            raise
        ip_observe(ip, seen)
        try:
            if planned.get("machine_id"):
                seen = self._attach(ip, seen, planned["machine_id"])
        except CloudError as exc:
            ctx.diagnostics.add_error(f"{ctx.type_name}: {exc.message}")  # allocated: kept (tainted)
        finally:
            task_set(ip, "")
        return planned | _seen(seen)

    def _attach(self, ip: ExternalIp, seen: dto.ExternalIp, machine_id: str | None) -> dto.ExternalIp:
        """Move the address to `machine_id` (None: to no machine), and wait until the machines
        it leaves and reaches show it (OpenStack's compute API lags its network API)."""
        left = seen.machine_id
        if left and left != machine_id:
            task_set(ip, "detaching")
            seen = self.driver.external_ip_detach(ip_id=seen.id)
            ip_observe(ip, seen)
            self._machine_shows(left, None)
        if machine_id and seen.machine_id != machine_id:
            task_set(ip, "attaching")
            seen = self.driver.external_ip_attach(ip_id=seen.id, machine_id=machine_id)
            ip_observe(ip, seen)
            self._machine_shows(machine_id, seen.address)
        return seen

    def _machine_shows(self, machine_id: str, address: str | None) -> None:
        machine = self.row(Machine, machine_id)
        try:
            seen = settle(
                lambda: self.driver.machine_get(machine_id=machine_id),
                lambda m: m.external_ip == address,
                what=f"The cloud showing {address or 'no external IP'} on the machine {machine_id}",
                timeout=float(settings.ATRIUM_MACHINE_ADDRESS_TIMEOUT),
            )
        except NotFound:
            return
        if machine is not None:
            machine_observe(machine=machine, seen=seen)

    def _cloud(self, ip_id: str) -> dto.ExternalIp:
        seen = next((ip for ip in self.driver.external_ips() if ip.id == ip_id), None)
        if seen is None:
            raise NotFound(f"The cloud has no external IP {ip_id}.")
        return seen

    @reported(keep_prior=True)
    def read(self, ctx: Any, current: State) -> State | None:
        seen = self.refreshed(ExternalIp, current["id"], lambda: self._cloud(current["id"]), ip_observe)
        return None if seen is None else current | _seen(seen)

    @reported(keep_prior=True)
    def update(self, ctx: Any, current: State, planned: State) -> State | None:
        ip = self.row_of(ExternalIp, current["id"])
        with idle_after(ip):
            seen = self._attach(ip, self._cloud(current["id"]), planned.get("machine_id"))
        return planned | _seen(seen)

    @reported(keep_prior=True)
    def delete(self, ctx: Any, current: State) -> State | None:
        ip = self.row(ExternalIp, current["id"])
        with idle_after(ip), suppress(NotFound):
            seen = self._cloud(current["id"])
            if ip is not None:
                self._attach(ip, seen, None)
                task_set(ip, "releasing")
            self.driver.external_ip_release(ip_id=current["id"])
        if ip is not None:
            row_delete(ip)
        return None


def _seen(seen: dto.ExternalIp) -> State:
    return {"id": seen.id, "address": seen.address, "machine_id": seen.machine_id}


class FirewallRuleResource(AtriumResource):
    kind = "firewall_rule"
    schema = Schema(
        description="One way in through a machine's own firewall (Atrium's firewall rule row).",
        attributes=[
            Attribute("id", String(), computed=True, description="The cloud's id of the rule."),
            Attribute("machine_id", String(), required=True, requires_replace=True),
            Attribute("protocol", String(), required=True, requires_replace=True, description="tcp, udp, icmp, any"),
            Attribute("port_min", Number(), optional=True, requires_replace=True),
            Attribute("port_max", Number(), optional=True, computed=True, requires_replace=True),
            Attribute(
                "remote_cidr",
                String(),
                optional=True,
                computed=True,
                requires_replace=True,
                description="Where from (default 0.0.0.0/0).",
            ),
        ],
    )

    def validate(self, diags: Any, type_name: str, config: State) -> None:
        super().validate(diags, type_name, config)
        asked = {name: config.get(name) for name in ("protocol", "port_min", "port_max", "remote_cidr")}
        if not all(value is None or isinstance(value, str | int | float) for value in asked.values()):
            return  # some are not known yet
        if not isinstance(asked["protocol"], str):
            return
        try:
            _, _, _, cidr = _clean(asked)
        except BadInput as exc:
            for name, problems in exc.fields.items():
                diags.add_error(f"{exc.message} {' '.join(problems)}", path=[name])
            return
        if asked["remote_cidr"] not in (None, cidr):
            diags.add_error(f"Write the remote range as {cidr}.", path=["remote_cidr"])

    @reported(keep_prior=False)
    def create(self, ctx: Any, planned: State) -> State | None:
        machine = self.row(Machine, planned["machine_id"])
        if machine is None:
            raise BadInput(
                f"{self.tenancy.name} has no machine {planned['machine_id']}.", fields={"machine_id": ["Unknown."]}
            )
        kind, low, high, cidr = _clean(planned)
        rule = FirewallRule.objects.create(
            tenancy=self.tenancy,
            machine=machine,
            protocol=kind.value,
            port_min=low,
            port_max=high,
            remote_cidr=cidr,
            task="adding",
        )
        changed(rule, created=True)
        added = True
        try:
            seen = self.driver.machine_firewall_rule_add(
                machine_id=machine.cloud_id, protocol=kind.value, port_min=low, port_max=high, remote_cidr=cidr
            )
        except InvalidOperation:
            # It may be there already (one of the machine's first rules, or added outside Atrium).
            found = next(
                (r for r in self.driver.machine_firewall(machine_id=machine.cloud_id) if r.key == rule.key), None
            )
            if found is None:
                row_delete(rule)
                raise
            seen, added = found, False
        except CloudError:
            row_delete(rule)
            raise
        other = FirewallRule.objects.filter(tenancy=self.tenancy, cloud_id=seen.id).exclude(pk=rule.pk).first()
        if other is not None:  # Atrium knew it already: one row is enough
            row_delete(rule)
        else:
            rule.cloud_id = seen.id
            task_set(rule, "")
        if machine.firewall_shared and added:
            firewall_left_shared(job_log(), self.driver, machine)
        return planned | _rule(seen)

    @reported(keep_prior=True)
    def read(self, ctx: Any, current: State) -> State | None:
        rule = self.row(FirewallRule, current["id"])
        try:
            rules = self.driver.machine_firewall(machine_id=current["machine_id"])
        except NotFound:
            rules = []
        seen = next((r for r in rules if r.id == current["id"]), None)
        if seen is None and rule is not None:  # the same rule under a new id (its machine left the shared firewall)
            seen = next((r for r in rules if r.key == rule.key), None)
        if seen is None:
            if rule is not None:
                row_delete(rule)
            return None
        if rule is not None and rule.cloud_id != seen.id:
            rule.cloud_id = seen.id
            rule.save(update_fields=["cloud_id", "updated_at"])
        return current | _rule(seen)

    @reported(keep_prior=True)
    def update(self, ctx: Any, current: State, planned: State) -> State | None:
        return planned  # every attribute replaces the rule

    @reported(keep_prior=True)
    def delete(self, ctx: Any, current: State) -> State | None:
        rule = self.row(FirewallRule, current["id"])
        machine = self.row(Machine, current["machine_id"])
        with suppress(NotFound):
            self.driver.machine_firewall_rule_remove(machine_id=current["machine_id"], rule_id=current["id"])
        if rule is not None:
            row_delete(rule)
        if machine is not None and machine.firewall_shared:
            firewall_left_shared(job_log(), self.driver, machine)
        return None


def _clean(asked: State) -> tuple[dto.FirewallProtocol, int | None, int | None, str]:
    """The rule as every driver stores it (attributes not set, or known only after apply, left out)."""

    def port(value: Any) -> int | None:
        return int(value) if isinstance(value, int | float) else None

    cidr = asked.get("remote_cidr")
    return firewall_rule_clean(
        protocol=asked["protocol"],
        port_min=port(asked.get("port_min")),
        port_max=port(asked.get("port_max")),
        remote_cidr=cidr if isinstance(cidr, str) else None,
    )


def _rule(seen: dto.FirewallRule) -> State:
    return {"id": seen.id, "port_max": seen.port_max, "remote_cidr": seen.remote_cidr}
