"""The machines flow through Atrium's services and jobs (not the driver alone)
against every cloud of the contract suite: the local cloud always, and the real
OpenStack services in CI (tests/openstack/up.sh). What a scientist does in the
pages and the API runs exactly this code: create, wait for ACTIVE, stop, start,
restart, an external IP allocated with the machine, detach, delete, and the
sync adopting a server made outside Atrium."""

from __future__ import annotations

import pytest

from apps.clouds import dto
from apps.jobs.models import Job
from apps.jobs.runner import job_run
from apps.jobs.services import tenancy_sync_start
from apps.machines import services
from apps.machines.models import ExternalIp, Machine
from apps.machines.selectors import catalogue_get
from tests.contract.conftest import CloudUnderTest
from tests.factories import UserFactory
from tests.unit.machines.test_services import run_latest


@pytest.fixture
def scientist(cut: CloudUnderTest):
    user = UserFactory(username="contract-scientist")
    cut.driver.tenancy.memberships.create(user=user)
    return user


def test_a_machine_from_request_to_deletion(cut: CloudUnderTest, scientist, settings):
    settings.ATRIUM_MACHINE_POLL_INTERVAL = 0.5 if cut.wait_seconds > 10 else 0.05
    tenancy = cut.driver.tenancy
    catalogue = catalogue_get(tenancy=tenancy)
    assert cut.image_id in {i["id"] for i in catalogue.images}
    assert cut.size_id in {s["id"] for s in catalogue.sizes}

    machine = services.machine_create(
        tenancy=tenancy, user=scientist, name="flow-vm", image_id=cut.image_id, size_id=cut.size_id
    )
    job = run_latest(machine)
    machine.refresh_from_db()
    if machine.cloud_id:
        cut.cleanups.append(lambda: cut._delete_quietly(machine.cloud_id))
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
    if catalogue.capabilities["external_ips"]:
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
    job = tenancy_sync_start(tenancy=cut.driver.tenancy, requested_by=scientist)
    job_run(job.pk)
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED, job.error
    adopted = Machine.objects.get(tenancy=cut.driver.tenancy, cloud_id=outside.id)
    assert (adopted.name, adopted.external, adopted.status) == ("made-outside", True, "ACTIVE")
    assert adopted.size_id == cut.size_id
