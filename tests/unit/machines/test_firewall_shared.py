"""Firewalls that fit default quotas: machines whose rules are the defaults share one security group
per tenancy (the local cloud counts them as Neutron does: 10 by default, the shared one included);
a machine gets a group of its own when its rules first change, and the page says what that costs."""

import re

import pytest
from django.urls import reverse

from apps.catalogue.quotas import quotas_current
from apps.clouds.errors import QuotaExceeded
from apps.clouds.registry import driver_for_tenancy
from apps.jobs.models import Job
from apps.jobs.runner import job_run
from apps.jobs.services import tenancy_sync_start
from apps.machines import services
from apps.machines.models import FirewallRule, Machine

from .conftest import quota_set


def groups(tenancy) -> tuple[int, int | None]:
    """The security groups in use and the limit, as Atrium counts them (no cloud call) ..."""
    quota = next(q for q in quotas_current(tenancy=tenancy) if q.resource == "firewalls")
    return quota.used, quota.limit


def groups_on_cloud(tenancy) -> int:
    """... and as the cloud does."""
    return next(q.used for q in driver_for_tenancy(tenancy).quotas() if q.resource == "firewalls")


def built(tenancy, user, image, size, name) -> Machine:
    machine = services.machine_create(tenancy=tenancy, user=user, name=name, image_id=image, size_id=size)
    job_run(machine.job.pk)
    machine.row.refresh_from_db()
    return machine.row


def test_more_machines_than_the_security_group_quota_each_get_a_firewall(physics, physicist, ubuntu, small):
    quota_set(physics, machines=20, cpus=100, ram_mb=10**6)
    assert groups(physics) == (1, 10)  # the shared firewall, like Neutron's own default group
    machines = [built(physics, physicist, ubuntu, small, f"node-{n:02}") for n in range(12)]
    assert {(m.status, m.has_firewall, m.firewall_shared) for m in machines} == {("ACTIVE", True, True)}
    for machine in machines:  # each shows the default rules as its own, as before
        assert [r.key for r in machine.firewall_rules.all()] == [
            ("tcp", 22, 22, "0.0.0.0/0"),
            ("icmp", None, None, "0.0.0.0/0"),
        ]
    assert groups(physics) == (1, 10)
    assert groups_on_cloud(physics) == 1


def test_the_shared_firewall_the_first_machine_makes_is_counted_once_until_made(
    physics, physicist, physicist_client, ubuntu, small
):
    """No create has found or made the tenancy's shared firewall yet: the create form's projection
    counts its security group, the first request takes it (Atrium's rows count it while the machine
    is on its way), a second request does not take it again, and once the first job has it the
    cloud's reading counts it (the local cloud's is always there, as Neutron's `default` group is)."""
    panel = reverse("machines:machine-create-quotas", args=[physics.pk])

    def projected() -> str:
        html = physicist_client.get(panel, {"size": small}).content.decode()
        row = html.split('data-quota="firewalls"')[1].split("</span>")[1]  # "used → after of limit"
        return " ".join(re.sub(r"<[^>]+>", " ", row).split())

    assert groups(physics) == (1, 10)
    assert projected() == "1 → 2 of 10"
    first = services.machine_create(tenancy=physics, user=physicist, name="first", image_id=ubuntu, size_id=small)
    assert groups(physics) == (2, 10)
    assert projected() == "2 of 10"  # joins the shared firewall the first one makes
    second = services.machine_create(tenancy=physics, user=physicist, name="second", image_id=ubuntu, size_id=small)
    assert groups(physics) == (2, 10)
    for started in (first, second):
        job_run(started.job.pk)
    assert groups(physics) == (1, 10)
    assert projected() == "1 of 10"


def test_a_change_gives_the_machine_its_own_group_and_the_page_says_so_first(
    physics, physicist, physicist_client, ubuntu, small
):
    web = built(physics, physicist, ubuntu, small, "web")
    other = built(physics, physicist, ubuntu, small, "other")
    page = reverse("machines:machine-detail", args=[physics.pk, web.pk])
    html = physicist_client.get(page).content.decode()
    assert "Changing its rules gives it a security group of its own: 2 of 10 security groups used then (1 now)" in html

    rule = services.firewall_rule_add(machine=web, user=physicist, protocol="tcp", port_min=8888).row
    assert groups(physics) == (2, 10)  # counted while the change is on its way
    job_run(Job.objects.latest("pk").pk)
    web.refresh_from_db()
    rule.refresh_from_db()
    assert not web.firewall_shared
    assert [r.key for r in web.firewall_rules.all()] == [
        ("tcp", 22, 22, "0.0.0.0/0"),
        ("icmp", None, None, "0.0.0.0/0"),
        ("tcp", 8888, 8888, "0.0.0.0/0"),
    ]
    assert all(r.cloud_id and not r.task and not r.external for r in web.firewall_rules.all())
    assert groups(physics) == (2, 10)
    assert groups_on_cloud(physics) == 2
    assert "security group of its own" not in physicist_client.get(page).content.decode()
    other.refresh_from_db()
    assert other.firewall_shared  # the others keep sharing

    # Removing a default rule from the other machine: the same, and the sync finds nothing to change.
    ssh = other.firewall_rules.get(port_min=22)
    job_run(services.firewall_rule_remove(rule=ssh, user=physicist).pk)
    assert not Machine.objects.get(pk=other.pk).firewall_shared
    assert [r.key for r in other.firewall_rules.all()] == [("icmp", None, None, "0.0.0.0/0")]
    before = list(FirewallRule.objects.values_list("pk", "cloud_id"))
    job_run(tenancy_sync_start(tenancy=physics).pk)
    assert list(FirewallRule.objects.values_list("pk", "cloud_id")) == before


def test_a_change_that_needs_a_security_group_over_the_quota_is_refused_first(physics, physicist, ubuntu, small):
    machine = built(physics, physicist, ubuntu, small, "web")
    quota_set(physics, firewalls=1)  # the shared group fills it
    with pytest.raises(QuotaExceeded, match="machine firewalls: this needs 1, 1 of 1 are in use"):
        services.firewall_rule_add(machine=machine, user=physicist, protocol="tcp", port_min=8888)
    assert machine.firewall_rules.count() == 2
    assert not Job.objects.filter(kind="machines.firewall_add").exists()


def test_the_sync_sees_a_machine_leave_the_shared_firewall_outside_atrium(physics, physicist, ubuntu, small):
    machine = built(physics, physicist, ubuntu, small, "web")
    first = list(machine.firewall_rules.values_list("pk", "protocol"))
    driver_for_tenancy(physics).machine_firewall_rule_add(machine_id=machine.cloud_id, protocol="udp", port_min=53)
    job_run(tenancy_sync_start(tenancy=physics).pk)
    machine.refresh_from_db()
    assert not machine.firewall_shared
    rows = list(machine.firewall_rules.all())
    # The first rules keep their rows (under the cloud's new ids); only the new one is "added outside Atrium".
    assert [(r.pk, r.protocol) for r in rows[:2]] == first
    assert [(r.protocol, r.external) for r in rows] == [("tcp", False), ("icmp", False), ("udp", True)]
