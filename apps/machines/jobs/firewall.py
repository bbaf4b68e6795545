"""A machine's own firewall: reading it (after a build, and in the sync), and the jobs that add
and remove its rules."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.utils import timezone

from apps.catalogue.selectors import firewall_shared_cached
from apps.clouds import dto
from apps.clouds.base import CloudDriver, in_shared_firewall, shared_rules
from apps.clouds.errors import CloudError, InvalidOperation, NotFound
from apps.clouds.registry import driver_for_tenancy
from apps.core.resources.jobs import clearing_task, job_target, reconcile, settle_change, settle_create
from apps.core.resources.services import changed, row_delete, task_set
from apps.jobs.context import JobContext
from apps.jobs.registry import job_kind

from ..models import FirewallRule, Machine

#: A rule whose add job ended before the cloud gave it an id is left to the sync (matched by what it lets in).
settle_rule_create = partial(settle_create, unmade=lambda job, rule: settle_change(job, rule, True))


def firewall_read(ctx: JobContext, driver: CloudDriver, machine: Machine) -> None:
    """Store the new machine's first rules (the cloud's defaults: SSH and ping): those of the
    tenancy's shared firewall as the catalogue keeps them (no cloud call), else as the cloud says.
    A failure to read them does not fail the build: the next sync reads them."""
    shared = firewall_shared_cached(tenancy=machine.tenancy) if machine.firewall_shared else None
    if shared is not None:
        seen = shared_rules(machine.cloud_id, shared)
    else:
        try:
            seen = driver.machine_firewall(machine_id=machine.cloud_id)
        except InvalidOperation as exc:
            ctx.log(exc.message)
            firewall_store(ctx, machine, None, rows=[], busy=set(), adopted_external=False)
            return
        except CloudError as exc:
            ctx.log(f"Could not read the firewall of {machine.name} ({exc.message}); the next sync will.")
            return
    firewall_store(ctx, machine, seen, rows=list(machine.firewall_rules.all()), busy=set(), adopted_external=False)
    ctx.log(f"{machine.name} lets in: " + "; ".join(r.description for r in machine.firewall_rules.all()) + ".")


def firewall_store(
    ctx: JobContext,
    machine: Machine,
    seen: list[dto.FirewallRule] | None,
    *,
    rows: list[FirewallRule],
    busy: set[int],
    adopted_external: bool,
) -> None:
    """Bring the machine's rule rows in line with its firewall on the cloud (`seen`; None: it has
    none of its own). Rules the cloud has that no row knows become rows (`external` when found by
    the sync: added outside Atrium); rows of rules the cloud no longer has are dropped. Rows a job
    holds (`busy`) and rows the cloud refused (with a fault) are left alone. Writes only what changed."""
    has_firewall = seen is not None
    shared = in_shared_firewall(machine.cloud_id, seen or [])
    if seen:
        _rekey(rows, seen, busy)
    if (machine.has_firewall, machine.firewall_shared) != (has_firewall, shared):
        machine.has_firewall, machine.firewall_shared = has_firewall, shared
        machine.save(update_fields=["has_firewall", "firewall_shared", "updated_at"])
        changed(machine)
    # Rows whose add job ended before it stored what the cloud made: matched by what they let in.
    waiting = [row for row in rows if not row.cloud_id and not row.fault and row.pk not in busy]

    def match(rule: dto.FirewallRule) -> FirewallRule | None:
        row = next((r for r in waiting if r.key == rule.key), None)
        if row is not None:
            waiting.remove(row)
        return row

    def adopt(rule: dto.FirewallRule) -> FirewallRule:
        row = FirewallRule.objects.create(
            tenancy_id=machine.tenancy_id,
            machine=machine,
            cloud_id=rule.id,
            external=adopted_external,
            protocol=rule.protocol.value,
            port_min=rule.port_min,
            port_max=rule.port_max,
            remote_cidr=rule.remote_cidr,
            observed_at=timezone.now(),
        )
        if adopted_external:
            ctx.log(f"Found {row.description} on {machine.name}, added outside Atrium.")
        changed(row)
        return row

    def observe(row: FirewallRule, rule: dto.FirewallRule) -> None:
        if (row.cloud_id, row.key, row.task) != (rule.id, rule.key, ""):
            row.cloud_id, row.task, row.observed_at = rule.id, "", timezone.now()
            row.protocol, row.port_min, row.port_max, row.remote_cidr = rule.key
            row.save()
            changed(row)

    def gone(row: FirewallRule) -> None:
        ctx.log(f"{row.description} is no longer in the firewall of {machine.name}.")
        row_delete(row)

    reconcile(rows, seen or [], adopt=adopt, observe=observe, busy=busy, match=match, gone=gone)
    for row in waiting:
        if seen is not None and row.cloud_id == "":  # its job ended (a worker died) before the cloud had it
            row.task, row.fault = "", "The job adding it ended before the cloud had it; remove it and add it again."
            row.save(update_fields=["task", "fault", "updated_at"])
            changed(row)


def _rekey(rows: list[FirewallRule], seen: list[dto.FirewallRule], busy: set[int]) -> None:
    """Rows whose rule the cloud now lists under another id (a machine that left the shared firewall
    has copies of its rules in its own group) take the new id: the same rule, not one gone and one
    added outside Atrium."""
    ids = {rule.id for rule in seen}
    taken = {row.cloud_id for row in rows}
    by_key = {rule.key: rule.id for rule in seen if rule.id not in taken}
    for row in rows:
        if row.cloud_id and row.cloud_id not in ids and row.pk not in busy and row.key in by_key:
            row.cloud_id = by_key.pop(row.key)
            row.save(update_fields=["cloud_id", "updated_at"])


def firewall_left_shared(ctx: JobContext, driver: CloudDriver, machine: Machine) -> None:
    """After the first change of a machine's rules: it has a security group of its own now, and
    its rules new ids on some clouds (read again; the next sync does if this read fails)."""
    machine.firewall_shared = False
    machine.save(update_fields=["firewall_shared", "updated_at"])
    ctx.log(f"{machine.name} has a firewall of its own now (it shared the tenancy's default one).")
    try:
        seen = driver.machine_firewall(machine_id=machine.cloud_id)
    except CloudError as exc:
        ctx.log(f"Could not read the firewall of {machine.name} ({exc.message}); the next sync will.")
        return
    firewall_store(ctx, machine, seen, rows=list(machine.firewall_rules.all()), busy=set(), adopted_external=False)


def _rule_target(ctx: JobContext) -> tuple[FirewallRule, Machine, CloudDriver]:
    rule = job_target(ctx, FirewallRule)
    machine = Machine.objects.get(pk=rule.machine_id)
    return rule, machine, driver_for_tenancy(rule.tenancy, user=ctx.job.requested_by)


@job_kind("machines.firewall_add", label="Add firewall rule", settle=settle_rule_create)
def firewall_add_job(ctx: JobContext) -> dict[str, Any]:
    rule, machine, driver = _rule_target(ctx)
    ctx.plan(["Add the rule"])
    if rule.fault or not rule.task:  # a retry: the row says "adding" again
        rule.fault = ""
        task_set(rule, "adding")
    with clearing_task(rule), ctx.stage("Add the rule"):
        added = True  # to the machine's firewall (so, on a machine in the shared one, to a group of its own)
        if rule.cloud_id:
            ctx.log("The cloud has the rule already.")
        else:
            try:
                seen = driver.machine_firewall_rule_add(
                    machine_id=machine.cloud_id,
                    protocol=rule.protocol,
                    port_min=rule.port_min,
                    port_max=rule.port_max,
                    remote_cidr=rule.remote_cidr,
                )
            except InvalidOperation as exc:
                # It may be there already (an earlier attempt, or someone outside Atrium added it).
                found = _rule_on_cloud(driver, machine, rule)
                if found is None:
                    _rule_refused(rule, exc)
                    raise
                seen, added = found, False
                ctx.log("The cloud had that rule already.")
            except CloudError as exc:
                _rule_refused(rule, exc)
                raise
            if FirewallRule.objects.filter(tenancy=rule.tenancy, cloud_id=seen.id).exclude(pk=rule.pk).exists():
                row_delete(rule)  # a sync has listed it meanwhile: one row is enough
            else:
                rule.cloud_id, rule.observed_at = seen.id, timezone.now()
                rule.save(update_fields=["cloud_id", "observed_at", "updated_at"])
                changed(rule)
            ctx.log(f"{machine.name} now lets in {rule.description}.")
        if machine.firewall_shared and added:
            firewall_left_shared(ctx, driver, machine)
    return {"machine": machine.pk, "rule": rule.cloud_id, "description": rule.description}


def _rule_on_cloud(driver: CloudDriver, machine: Machine, rule: FirewallRule) -> dto.FirewallRule | None:
    try:
        seen = driver.machine_firewall(machine_id=machine.cloud_id)
    except CloudError:
        return None
    return next((r for r in seen if r.key == rule.key), None)


def _rule_refused(rule: FirewallRule, exc: CloudError) -> None:
    """The row stays with the cloud's reason, so the person sees why (until they remove it)."""
    rule.fault = exc.message
    rule.save(update_fields=["fault", "updated_at"])
    changed(rule)


@job_kind("machines.firewall_remove", label="Remove firewall rule", resumable=True, settle=settle_change)
def firewall_remove_job(ctx: JobContext) -> dict[str, Any]:
    rule, machine, driver = _rule_target(ctx)
    ctx.plan(["Remove the rule"])
    description = rule.description
    with clearing_task(rule), ctx.stage("Remove the rule"):
        if rule.cloud_id:
            try:
                driver.machine_firewall_rule_remove(machine_id=machine.cloud_id, rule_id=rule.cloud_id)
                ctx.log(f"{machine.name} no longer lets in {description}.")
            except NotFound:
                ctx.log("The cloud had removed it already.")
        else:
            ctx.log("The cloud never had this rule.")
        row_delete(rule)
        if machine.firewall_shared and rule.cloud_id:
            firewall_left_shared(ctx, driver, machine)
    return {"machine": machine.pk, "removed": description}
