"""A machine's own firewall through the services and jobs, against the local cloud
(its rules are LocalFirewallRule rows), the jobs run here with `job_run`."""

import pytest

from apps.clouds.errors import BadInput, Unsupported
from apps.clouds.local.services import local_fault_inject
from apps.clouds.models import LocalFirewallRule, LocalMachine
from apps.clouds.registry import driver_for_tenancy
from apps.core.errors import Conflict
from apps.jobs.models import Job
from apps.jobs.runner import job_run
from apps.jobs.services import tenancy_sync_start
from apps.machines import services
from apps.machines.models import FirewallRule, Machine, firewall_rule_words
from apps.machines.selectors import machine_jobs
from tests.factories import MachineFactory

from .conftest import offers
from .test_services import create, run_latest


def rules(machine: Machine) -> list[tuple[str, int | None, int | None, str]]:
    return [rule.key for rule in FirewallRule.objects.filter(machine=machine)]


def cloud_rules(machine: Machine) -> set[tuple[str, int | None, int | None, str]]:
    return {
        (r.protocol, r.port_min, r.port_max, r.remote_cidr)
        for r in LocalFirewallRule.objects.filter(machine__uid=machine.cloud_id)
    }


def add(machine: Machine, user, **rule) -> FirewallRule:
    return services.firewall_rule_add(machine=machine, user=user, **rule).row


def test_the_create_job_stores_the_first_rules_once_the_machine_is_active(machine):
    assert machine.has_firewall is True
    assert rules(machine) == [("tcp", 22, 22, "0.0.0.0/0"), ("icmp", None, None, "0.0.0.0/0")]
    first = FirewallRule.objects.filter(machine=machine)
    assert all(rule.cloud_id and not rule.external and not rule.task for rule in first)
    job = Job.objects.filter(kind="machines.create").get()
    assert "Read its firewall" in [stage.name for stage in job.stages.all()]


def test_rules_in_words():
    assert firewall_rule_words("tcp", 22, 22, "0.0.0.0/0") == "TCP port 22 (SSH) from anywhere"
    assert firewall_rule_words("icmp", None, None, "192.0.2.0/24") == "ICMP (ping) from 192.0.2.0/24"
    assert firewall_rule_words("udp", 60000, 61000, "192.0.2.7/32") == "UDP ports 60000-61000 from 192.0.2.7"
    assert firewall_rule_words("tcp", 8888, 8888, "::/0") == "TCP port 8888 (Jupyter) from anywhere (IPv6)"
    assert firewall_rule_words("any", None, None, "10.0.0.0/8") == "All traffic from 10.0.0.0/8"
    assert firewall_rule_words("tcp", None, None, "0.0.0.0/0") == "TCP, every port from anywhere"


def test_adding_a_rule_records_it_then_the_job_opens_the_port(machine, physicist):
    rule = add(machine, physicist, protocol="tcp", port_min=8888, remote_cidr="192.0.2.7")
    # Stored as the cloud will have it (one port is a range of one, an address a /32), "adding".
    assert (rule.key, rule.task, rule.cloud_id, rule.created_by) == (
        ("tcp", 8888, 8888, "192.0.2.7/32"),
        "adding",
        "",
        physicist,
    )
    job = run_latest(rule)
    assert job.state == Job.State.SUCCEEDED, job.error
    rule.refresh_from_db()
    assert rule.task == ""
    assert rule.cloud_id == LocalFirewallRule.objects.get(port_min=8888).uid
    assert ("tcp", 8888, 8888, "192.0.2.7/32") in cloud_rules(machine)
    assert job in machine_jobs(machine=machine)  # listed with the machine's jobs


@pytest.mark.parametrize(
    ("rule", "fields"),
    [
        ({"protocol": "smtp", "port_min": 25}, {"protocol"}),
        ({"protocol": "tcp"}, {"port_min"}),
        ({"protocol": "tcp", "port_min": 0}, {"port_min", "port_max"}),
        ({"protocol": "udp", "port_min": 70000}, {"port_min", "port_max"}),
        ({"protocol": "tcp", "port_min": 9000, "port_max": 8000}, {"port_max"}),
        ({"protocol": "icmp", "port_min": 8}, {"port_min"}),
        ({"protocol": "tcp", "port_min": 80, "remote_cidr": "the institute"}, {"remote_cidr"}),
        ({"protocol": "tcp", "port_min": 22, "remote_cidr": "0.0.0.0/0"}, {"port_min"}),  # open already
        ({"protocol": "icmp", "remote_cidr": ""}, {"protocol"}),  # anywhere, open already
    ],
)
def test_bad_rules_are_refused_with_field_messages_and_nothing_stored(machine, physicist, rule, fields):
    before = (FirewallRule.objects.count(), Job.objects.count())
    with pytest.raises(BadInput) as refused:
        add(machine, physicist, **rule)
    assert set(refused.value.fields) == fields
    assert (FirewallRule.objects.count(), Job.objects.count()) == before


def test_a_rule_the_machine_is_being_given_is_not_asked_for_twice(machine, physicist):
    add(machine, physicist, protocol="tcp", port_min=443)
    with pytest.raises(BadInput) as refused:
        add(machine, physicist, protocol="tcp", port_min=443, port_max=443, remote_cidr="0.0.0.0/0")
    assert refused.value.fields == {"port_min": ["TCP port 443 (secure web) from anywhere is open already."]}


def test_firewalls_are_edited_only_on_machines_that_have_one_and_are_up(
    machine, physics, physicist, ubuntu, small, catalogue
):
    building = create(physics, physicist, ubuntu, small, name="building")
    with pytest.raises(Conflict, match="building; edit its firewall when it is active or stopped"):
        add(building, physicist, protocol="tcp", port_min=80)
    outside = MachineFactory(tenancy=physics, name="found", cloud_id="x", external=True)
    with pytest.raises(Conflict, match="made outside Atrium"):
        add(outside, physicist, protocol="tcp", port_min=80)
    Machine.objects.filter(pk=machine.pk).update(has_firewall=False)
    machine.refresh_from_db()
    with pytest.raises(Conflict, match="no firewall of its own"):
        add(machine, physicist, protocol="tcp", port_min=80)
    Machine.objects.filter(pk=machine.pk).update(has_firewall=True)
    offers(physics, firewall=False)
    with pytest.raises(Unsupported):
        add(machine, physicist, protocol="tcp", port_min=80)
    assert FirewallRule.objects.filter(port_min=80).count() == 0
    assert not Job.objects.filter(kind="machines.firewall_add").exists()


def test_a_rule_the_cloud_refuses_stays_with_the_reason_until_dismissed(machine, physicist, cloud):
    local_fault_inject(cloud=cloud, operation="machine_firewall_rule_add", kind="error", message="No more rules.")
    rule = add(machine, physicist, protocol="tcp", port_min=5432, remote_cidr="198.51.100.0/24")
    for _ in range(3):  # every attempt fails alike
        job = run_latest(rule)
        if job.state == Job.State.FAILED:
            break
    assert job.state == Job.State.FAILED
    rule.refresh_from_db()
    assert (rule.task, rule.cloud_id, rule.fault) == ("", "", "No more rules.")
    # The same rule can be asked for again (the refused one is not in force).
    again = add(machine, physicist, protocol="tcp", port_min=5432, remote_cidr="198.51.100.0/24")
    assert again.pk != rule.pk
    # Dismissing the refused one only drops the row.
    job = services.firewall_rule_remove(rule=rule, user=physicist)
    job_run(job.pk)
    assert not FirewallRule.objects.filter(pk=rule.pk).exists()


def test_an_add_the_cloud_has_already_takes_the_clouds_rule(machine, physicist):
    rule = add(machine, physicist, protocol="udp", port_min=4000)
    made = driver_for_tenancy(machine.tenancy).machine_firewall_rule_add(
        machine_id=machine.cloud_id, protocol="udp", port_min=4000
    )
    job = run_latest(rule)
    assert job.state == Job.State.SUCCEEDED, job.error
    rule.refresh_from_db()
    assert (rule.cloud_id, rule.fault) == (made.id, "")


def test_removing_a_rule_closes_the_port_and_drops_the_row(machine, physicist):
    ssh = FirewallRule.objects.get(machine=machine, port_min=22)
    job = services.firewall_rule_remove(rule=ssh, user=physicist)
    ssh.refresh_from_db()
    assert ssh.task == "removing"
    with pytest.raises(Conflict, match="removing"):
        services.firewall_rule_remove(rule=ssh, user=physicist)
    job_run(job.pk)
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED, job.error
    assert not FirewallRule.objects.filter(pk=ssh.pk).exists()
    assert cloud_rules(machine) == {("icmp", None, None, "0.0.0.0/0")}


def test_a_rule_gone_from_the_cloud_already_is_removed_all_the_same(machine, physicist):
    ssh = FirewallRule.objects.get(machine=machine, port_min=22)
    LocalFirewallRule.objects.filter(uid=ssh.cloud_id).delete()
    job = services.firewall_rule_remove(rule=ssh, user=physicist)
    job_run(job.pk)
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED, job.error
    assert not FirewallRule.objects.filter(pk=ssh.pk).exists()


def test_the_sync_adopts_rules_added_outside_atrium_and_drops_gone_ones(machine, physics, physicist):
    driver = driver_for_tenancy(physics)
    outside = driver.machine_firewall_rule_add(machine_id=machine.cloud_id, protocol="tcp", port_min=3389)
    # That change gave the machine a firewall of its own (the rules' ids changed): remove ping there.
    icmp = next(r for r in driver.machine_firewall(machine_id=machine.cloud_id) if r.protocol == "icmp")
    driver.machine_firewall_rule_remove(machine_id=machine.cloud_id, rule_id=icmp.id)
    busy = add(machine, physicist, protocol="tcp", port_min=80)  # its job has not run: the sync leaves it

    job = tenancy_sync_start(tenancy=physics, requested_by=physicist)
    job_run(job.pk)
    job.refresh_from_db()

    assert job.state == Job.State.SUCCEEDED, job.error
    assert rules(machine) == [
        ("tcp", 22, 22, "0.0.0.0/0"),
        ("tcp", 80, 80, "0.0.0.0/0"),
        ("tcp", 3389, 3389, "0.0.0.0/0"),
    ]
    adopted = FirewallRule.objects.get(cloud_id=outside.id)
    assert (adopted.external, adopted.created_by, adopted.machine) == (True, None, machine)
    busy.refresh_from_db()
    assert busy.task == "adding"
    assert any("added outside Atrium" in line.message for line in job.log_lines.all())


def test_the_sync_reads_one_firewall_per_atrium_machine_and_skips_the_others(machine, physics, physicist, monkeypatch):
    from apps.clouds.local.driver import LocalDriver

    driver = driver_for_tenancy(physics)
    image = next(i for i in driver.images() if i.name == "Debian 12")
    size = next(s for s in driver.sizes() if s.name == "small")
    driver.machine_create(name="made-outside", image_id=image.id, size_id=size.id)
    read = LocalDriver.machine_firewalls
    asked: list[list[str]] = []

    def counted(self, *, machine_ids):
        asked.append(list(machine_ids))
        return read(self, machine_ids=machine_ids)

    monkeypatch.setattr(LocalDriver, "machine_firewalls", counted)
    job = tenancy_sync_start(tenancy=physics, requested_by=physicist)
    job_run(job.pk)

    found = Machine.objects.get(name="made-outside")
    assert found.external
    assert asked == [[machine.cloud_id]]  # one read for the machines Atrium made; not the one found
    assert not FirewallRule.objects.filter(machine=found).exists()  # not Atrium's to edit


def test_the_sync_marks_a_machine_the_cloud_gave_no_firewall(machine, physics, physicist, monkeypatch):
    from apps.clouds.local.driver import LocalDriver

    def none_of_its_own(self, *, machine_ids):
        return dict.fromkeys(machine_ids)

    # As OpenStack answers for machines made before they had their own (the local cloud makes none such).
    monkeypatch.setattr(LocalDriver, "machine_firewalls", none_of_its_own)
    job = tenancy_sync_start(tenancy=physics, requested_by=physicist)
    job_run(job.pk)
    machine.refresh_from_db()
    assert machine.has_firewall is False
    with pytest.raises(Conflict, match="no firewall of its own"):
        add(machine, physicist, protocol="tcp", port_min=80)


def test_deleting_the_machine_deletes_its_rules(machine, physicist):
    job = services.machine_delete(machine=machine, user=physicist)
    job_run(job.pk)
    assert not Machine.objects.filter(pk=machine.pk).exists()
    assert not FirewallRule.objects.exists()
    assert not LocalMachine.objects.filter(uid=machine.cloud_id).exists()


def test_the_sync_tells_of_a_rule_whose_job_died_before_the_cloud_had_it(machine, physics, physicist):
    from apps.jobs.models import JobLock

    lost = add(machine, physicist, protocol="tcp", port_min=8080)
    JobLock.objects.all().delete()  # as the recovery sweep leaves it after failing the job of a dead worker
    job = tenancy_sync_start(tenancy=physics, requested_by=physicist)
    job_run(job.pk)
    lost.refresh_from_db()
    assert (lost.task, lost.cloud_id) == ("", "")
    assert "ended before the cloud had it" in lost.fault
