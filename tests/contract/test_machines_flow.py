"""The machines flow through Atrium's services and jobs (not the driver alone)
against every cloud of the contract suite: the local cloud always, and the real
OpenStack services in CI (tests/openstack/up.sh). What a scientist does in the
pages and the API runs exactly this code: create, wait for ACTIVE, stop, start,
restart, an external IP allocated with the machine, detach, delete, and the
sync adopting a server made outside Atrium."""

from __future__ import annotations

import pytest

from apps.catalogue.selectors import catalogue_get
from apps.clouds import dto
from apps.jobs.models import Job
from apps.jobs.runner import job_run
from apps.jobs.services import tenancy_sync_start
from apps.machines import services
from apps.machines.models import ExternalIp, Machine
from tests.contract.conftest import CloudUnderTest
from tests.factories import UserFactory
from tests.unit.machines.test_services import run_latest


@pytest.fixture
def scientist(cut: CloudUnderTest):
    user = UserFactory(username="contract-scientist")
    cut.tenancy.memberships.create(user=user)
    return user


def test_a_machine_from_request_to_deletion(cut: CloudUnderTest, scientist, settings):
    settings.ATRIUM_MACHINE_POLL_INTERVAL = 0.5 if cut.wait_seconds > 10 else 0.05
    tenancy = cut.tenancy
    catalogue = catalogue_get(tenancy=tenancy)
    assert cut.image_id in {i["id"] for i in catalogue.images}
    assert cut.size_id in {s["id"] for s in catalogue.sizes}

    machine, job = cut.machine_made(scientist, "flow-vm")
    assert job.state == Job.State.SUCCEEDED, job.error
    assert (machine.status, machine.task) == ("ACTIVE", "")
    assert machine.internal_ip

    for action, status in [("stop", "STOPPED"), ("start", "ACTIVE"), ("restart", "ACTIVE")]:
        services.machine_action(machine=machine, user=scientist, action=action)
        job = run_latest(machine)
        machine.refresh_from_db()
        assert job.state == Job.State.SUCCEEDED, f"{action}: {job.error}"
        assert (machine.status, machine.task) == (status, ""), action
        assert cut.driver.machine_get(machine_id=machine.cloud_id).status.value == status

    address = None
    if catalogue.capabilities.external_ips:
        services.machine_ip_new(machine=machine, user=scientist)
        job = run_latest(machine)
        assert job.state == Job.State.SUCCEEDED, job.error
        machine.refresh_from_db()
        ip = ExternalIp.objects.get(tenancy=tenancy, machine=machine)
        assert machine.external_ip == ip.address
        assert cut.driver.machine_get(machine_id=machine.cloud_id).external_ip == ip.address
        address = ip.address

    log = cut.driver.machine_console_log(machine_id=machine.cloud_id)
    assert isinstance(log, str)

    if catalogue.capabilities.firewall:
        # Its own firewall, read after the build: SSH and ping to start with; open Jupyter to one network.
        assert machine.has_firewall is True
        assert {r.key for r in machine.firewall_rules.all()} >= {
            ("tcp", 22, 22, "0.0.0.0/0"),
            ("icmp", None, None, "0.0.0.0/0"),
        }
        rule = services.firewall_rule_add(
            machine=machine, user=scientist, protocol="tcp", port_min=8888, remote_cidr="192.0.2.0/24"
        ).row
        job = run_latest(rule)
        rule.refresh_from_db()
        assert job.state == Job.State.SUCCEEDED, job.error
        assert (rule.task, rule.fault) == ("", "")
        on_cloud = {r.id: r for r in cut.driver.machine_firewall(machine_id=machine.cloud_id)}
        assert (on_cloud[rule.cloud_id].port_min, on_cloud[rule.cloud_id].remote_cidr) == (8888, "192.0.2.0/24")
        services.firewall_rule_remove(rule=rule, user=scientist)
        assert run_latest(rule).state == Job.State.SUCCEEDED
        assert rule.cloud_id not in {r.id for r in cut.driver.machine_firewall(machine_id=machine.cloud_id)}
        assert not machine.firewall_rules.filter(pk=rule.pk).exists()
        # A rule added on the cloud directly: the sync (one read for all machines) brings it in.
        outside = cut.driver.machine_firewall_rule_add(machine_id=machine.cloud_id, protocol="udp", port_min=60001)
        sync = tenancy_sync_start(tenancy=tenancy, requested_by=scientist)
        job_run(sync.pk)
        sync.refresh_from_db()
        assert sync.state == Job.State.SUCCEEDED, sync.error
        machine.refresh_from_db()
        assert machine.has_firewall is True
        adopted = machine.firewall_rules.get(cloud_id=outside.id)
        assert (adopted.key, adopted.external) == (("udp", 60001, 60001, "0.0.0.0/0"), True)
        assert machine.firewall_rules.count() == len(cut.driver.machine_firewall(machine_id=machine.cloud_id))

    cloud_id = machine.cloud_id
    services.machine_delete(machine=machine, user=scientist)
    job = run_latest(machine)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert not Machine.objects.filter(pk=machine.pk).exists()
    assert cloud_id not in {m.id for m in cut.driver.machines()}
    # The IP allocated with it was released with it.
    assert not ExternalIp.objects.filter(tenancy=tenancy).exists()
    if address:
        assert address not in {ip.address for ip in cut.driver.external_ips()}


def test_the_sync_adopts_a_server_made_outside_atrium(cut: CloudUnderTest, scientist):
    outside = cut.boot("made-outside")
    cut.wait_status(outside.id, dto.MachineStatus.ACTIVE)
    job = tenancy_sync_start(tenancy=cut.tenancy, requested_by=scientist)
    job_run(job.pk)
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED, job.error
    adopted = Machine.objects.get(tenancy=cut.tenancy, cloud_id=outside.id)
    assert (adopted.name, adopted.external, adopted.status) == ("made-outside", True, "ACTIVE")
    assert adopted.size_id == cut.size_id
