"""Machines, external IPs and volumes end to end through the services and jobs,
against the local cloud (its state in the test database), the jobs run here
with `job_run` (the code a worker runs)."""

import pytest
from django.contrib.contenttypes.models import ContentType

from apps.catalogue.models import Catalogue
from apps.clouds.errors import BadInput, QuotaExceeded
from apps.clouds.local.services import local_fault_inject
from apps.clouds.models import LocalMachine
from apps.clouds.registry import driver_for_tenancy
from apps.core.errors import Conflict
from apps.jobs.models import Job, JobLock
from apps.jobs.runner import job_run
from apps.jobs.services import tenancy_sync_start
from apps.machines import services
from apps.machines.models import ExternalIp, Machine, Volume

from .conftest import by_name, quota_set


def run_latest(target) -> Job:
    job = Job.objects.filter(target_type=ContentType.objects.get_for_model(target), target_id=str(target.pk)).latest(
        "pk"
    )
    job_run(job.pk)
    job.refresh_from_db()
    return job


def create(physics, physicist, ubuntu, small, **kwargs) -> Machine:
    return services.machine_create(
        tenancy=physics, user=physicist, name=kwargs.pop("name", "analysis-1"), image_id=ubuntu, size_id=small, **kwargs
    ).row


def test_create_records_a_building_row_then_the_job_makes_it_active(physics, physicist, ubuntu, small, ssh_key):
    machine = create(physics, physicist, ubuntu, small, ssh_key=ssh_key, external_ip=True)
    assert (machine.task, machine.status, machine.cloud_id) == ("building", "BUILD", "")
    assert (machine.image_name, machine.size_name, machine.cpus, machine.ram_mb) == (
        "Ubuntu 24.04 LTS",
        "small",
        1,
        2048,
    )

    job = run_latest(machine)

    assert job.state == Job.State.SUCCEEDED, job.error
    machine.refresh_from_db()
    assert (machine.task, machine.status) == ("", "ACTIVE")
    assert machine.internal_ip
    assert machine.external_ip
    server = LocalMachine.objects.get(uid=machine.cloud_id)
    assert server.key_name.startswith("atrium-")
    assert server.metadata["atrium_machine"] == str(machine.pk)
    ip = ExternalIp.objects.get(tenancy=physics)
    assert (ip.address, ip.machine, ip.with_machine) == (machine.external_ip, machine, True)


def test_bad_input_is_refused_with_field_messages_and_nothing_stored(physics, physicist, ubuntu, small, catalogue):
    with pytest.raises(BadInput) as refused:
        services.machine_create(tenancy=physics, user=physicist, name=" ", image_id="nope", size_id="nope")
    assert set(refused.value.fields) == {"name", "image_id", "size_id"}
    with pytest.raises(BadInput) as refused:
        services.machine_create(tenancy=physics, user=physicist, name="x" * 256, image_id=ubuntu, size_id=small)
    assert "name" in refused.value.fields
    cuda = by_name(catalogue.images, "Ubuntu 24.04 + CUDA 12")
    with pytest.raises(BadInput) as refused:
        services.machine_create(tenancy=physics, user=physicist, name="gpu", image_id=cuda, size_id=small)
    assert "needs at least" in refused.value.fields["size_id"][0]
    assert not Machine.objects.exists()
    assert not Job.objects.exists()


def test_a_second_machine_of_the_same_name_is_refused(physics, physicist, ubuntu, small):
    create(physics, physicist, ubuntu, small)
    with pytest.raises(BadInput) as refused:
        create(physics, physicist, ubuntu, small)
    assert refused.value.fields["name"] == ["Physics already has a machine called analysis-1."]


def test_quota_counts_machines_still_on_their_way(physics, physicist, ubuntu, small, cloud):
    quota_set(physics, machines=2)
    create(physics, physicist, ubuntu, small, name="one")
    create(physics, physicist, ubuntu, small, name="two")  # neither exists on the cloud yet
    with pytest.raises(QuotaExceeded) as refused:
        create(physics, physicist, ubuntu, small, name="three")
    assert "machines: this needs 1, 2 of 2 are in use" in refused.value.message
    assert Machine.objects.count() == 2


def test_a_failed_build_ends_in_error_with_the_clouds_reason(physics, physicist, ubuntu, small, cloud):
    local_fault_inject(cloud=cloud, operation="machine_create", kind="build_failure", message="Disk on fire.")
    machine = create(physics, physicist, ubuntu, small)
    job = run_latest(machine)
    machine.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert "Disk on fire." in job.error
    assert (machine.status, machine.task, machine.fault) == ("ERROR", "", "Disk on fire.")
    assert services.machine_actions(machine) == ["delete"]


@pytest.mark.parametrize("stale", ["network", "firewall"])
def test_a_create_finds_the_network_and_shared_firewall_again_when_the_cloud_no_longer_has_those_kept(
    physics, physicist, ubuntu, small, stale
):
    """The catalogue keeps the project's network and shared firewall for creates; when the cloud
    refuses the one kept (BadInput naming `network_id` or `firewall_id`: deleted on the cloud), the
    job finds them again, keeps those, and the machine is made."""
    assert run_latest(create(physics, physicist, ubuntu, small, name="first")).state == Job.State.SUCCEEDED
    kept = Catalogue.objects.filter(tenancy=physics).values("network", "firewall").get()
    assert kept["network"]["id"]
    assert kept["firewall"]["id"]
    gone = {**(kept["network"] if stale == "network" else kept["firewall"]), "id": "deleted-on-the-cloud"}
    Catalogue.objects.filter(tenancy=physics).update(**{stale: gone})

    machine = create(physics, physicist, ubuntu, small, name="second")
    job = run_latest(machine)

    assert job.state == Job.State.SUCCEEDED, job.error
    machine.refresh_from_db()
    assert (machine.status, machine.firewall_shared) == ("ACTIVE", True)
    assert Catalogue.objects.filter(tenancy=physics).values("network", "firewall").get() == kept


def test_stop_start_restart_and_the_state_rules(physics, physicist, ubuntu, small):
    machine = create(physics, physicist, ubuntu, small)
    run_latest(machine)
    machine.refresh_from_db()
    assert services.machine_actions(machine) == ["stop", "restart", "delete"]
    with pytest.raises(Conflict, match="can be started only when stopped"):
        services.machine_action(machine=machine, user=physicist, action="start")

    services.machine_action(machine=machine, user=physicist, action="stop")
    machine.refresh_from_db()
    assert machine.task == "stopping"
    with pytest.raises(Conflict, match="is stopping"):
        services.machine_action(machine=machine, user=physicist, action="stop")
    assert run_latest(machine).state == Job.State.SUCCEEDED
    machine.refresh_from_db()
    assert (machine.status, machine.task) == ("STOPPED", "")
    assert services.machine_actions(machine) == ["start", "delete"]

    services.machine_action(machine=machine, user=physicist, action="start")
    assert run_latest(machine).state == Job.State.SUCCEEDED
    services.machine_action(machine=machine, user=physicist, action="restart")
    assert run_latest(machine).state == Job.State.SUCCEEDED
    machine.refresh_from_db()
    assert machine.status == "ACTIVE"


def test_delete_removes_the_server_the_row_and_the_ip_made_with_it(physics, physicist, ubuntu, small):
    machine = create(physics, physicist, ubuntu, small, external_ip=True)
    run_latest(machine)
    machine.refresh_from_db()
    cloud_id = machine.cloud_id
    services.machine_delete(machine=machine, user=physicist)
    assert run_latest(machine).state == Job.State.SUCCEEDED
    assert not Machine.objects.filter(pk=machine.pk).exists()
    assert not LocalMachine.objects.filter(uid=cloud_id).exists()
    assert not ExternalIp.objects.exists()
    assert driver_for_tenancy(physics).external_ips() == []


def test_external_ip_allocate_attach_detach_release(physics, physicist, ubuntu, small):
    machine = create(physics, physicist, ubuntu, small)
    run_latest(machine)
    machine.refresh_from_db()
    ip = services.external_ip_allocate(tenancy=physics, user=physicist).row
    assert run_latest(ip).state == Job.State.SUCCEEDED
    ip.refresh_from_db()
    assert ip.address
    assert ip.cloud_id
    assert not ip.machine

    services.external_ip_attach(ip=ip, machine=machine, user=physicist)
    assert run_latest(ip).state == Job.State.SUCCEEDED
    ip.refresh_from_db()
    machine.refresh_from_db()
    assert ip.machine == machine
    assert machine.external_ip == ip.address
    with pytest.raises(Conflict, match="detach it first"):
        services.external_ip_release(ip=ip, user=physicist)

    services.external_ip_detach(ip=ip, user=physicist)
    assert run_latest(ip).state == Job.State.SUCCEEDED
    assert Machine.objects.get(pk=machine.pk).external_ip is None

    services.external_ip_release(ip=ip, user=physicist)
    assert run_latest(ip).state == Job.State.SUCCEEDED
    assert not ExternalIp.objects.exists()


def test_volume_create_attach_detach_delete(physics, physicist, ubuntu, small):
    machine = create(physics, physicist, ubuntu, small)
    run_latest(machine)
    machine.refresh_from_db()
    with pytest.raises(BadInput) as refused:
        services.volume_create(tenancy=physics, user=physicist, name="", size_gb=0)
    assert set(refused.value.fields) == {"name", "size_gb"}

    volume = services.volume_create(tenancy=physics, user=physicist, name="data", size_gb=50).row
    assert run_latest(volume).state == Job.State.SUCCEEDED
    volume.refresh_from_db()
    assert volume.status == "AVAILABLE"

    services.volume_attach(volume=volume, machine=machine, user=physicist)
    assert run_latest(volume).state == Job.State.SUCCEEDED
    volume.refresh_from_db()
    assert (volume.status, volume.machine) == ("IN_USE", machine)
    assert volume.device
    with pytest.raises(Conflict, match="detach it first"):
        services.volume_delete(volume=volume, user=physicist)

    services.volume_detach(volume=volume, user=physicist)
    assert run_latest(volume).state == Job.State.SUCCEEDED
    volume.refresh_from_db()
    assert (volume.status, volume.machine) == ("AVAILABLE", None)
    services.volume_delete(volume=volume, user=physicist)
    assert run_latest(volume).state == Job.State.SUCCEEDED
    assert not Volume.objects.exists()


def test_a_sync_where_nothing_changed_rewrites_no_machine_and_tells_no_page(physics, physicist, ubuntu, small):
    for name in ("a", "b", "c"):
        run_latest(create(physics, physicist, ubuntu, small, name=name))
    tenancy_sync_start(tenancy=physics, requested_by=physicist)
    job_run(Job.objects.latest("pk").pk)
    before = {m.pk: (m.updated_at, m.observed_at) for m in Machine.objects.all()}

    job = tenancy_sync_start(tenancy=physics, requested_by=physicist)
    job_run(job.pk)

    after = {m.pk: (m.updated_at, m.observed_at) for m in Machine.objects.all()}
    assert {pk: updated for pk, (updated, _) in after.items()} == {pk: updated for pk, (updated, _) in before.items()}
    for pk, (_, seen_before) in before.items():  # but Atrium did look
        seen_after = after[pk][1]
        assert seen_before is not None
        assert seen_after is not None
        assert seen_after > seen_before


def test_sync_adopts_what_was_made_outside_and_drops_what_is_gone(
    physics, physicist, ubuntu, small, django_capture_on_commit_callbacks
):
    mine = create(physics, physicist, ubuntu, small, name="mine")
    run_latest(mine)
    mine.refresh_from_db()
    driver = driver_for_tenancy(physics)
    outside = driver.machine_create(name="made-in-horizon", image_id=ubuntu, size_id=small)
    driver.volume_create(name="scratch", size_gb=10)
    driver.machine_delete(machine_id=mine.cloud_id)

    job = tenancy_sync_start(tenancy=physics, requested_by=physicist)
    with django_capture_on_commit_callbacks(execute=True):  # publishing a dropped row must work too
        job_run(job.pk)
    job.refresh_from_db()

    assert job.state == Job.State.SUCCEEDED, job.error
    adopted = Machine.objects.get(tenancy=physics)
    assert (adopted.name, adopted.cloud_id, adopted.external, adopted.created_by) == (
        "made-in-horizon",
        outside.id,
        True,
        None,
    )
    assert (adopted.size_name, adopted.image_name) == ("small", "Ubuntu 24.04 LTS")
    assert Volume.objects.get(tenancy=physics).external
    assert not Machine.objects.filter(pk=mine.pk).exists()


def test_sync_finds_the_server_of_a_create_whose_worker_died(physics, physicist, ubuntu, small):
    machine = create(physics, physicist, ubuntu, small)
    # The worker made the server and died before storing its id.
    driver_for_tenancy(physics).machine_create(
        name=machine.name, image_id=ubuntu, size_id=small, metadata={"atrium_machine": str(machine.pk)}
    )
    Job.objects.filter(pk=JobLock.objects.get().job_id).update(state=Job.State.FAILED)
    JobLock.objects.all().delete()

    job = tenancy_sync_start(tenancy=physics, requested_by=physicist)
    job_run(job.pk)

    machine.refresh_from_db()
    assert machine.cloud_id
    assert machine.task == ""
    assert not machine.external
    assert Machine.objects.count() == 1


def test_a_create_resumed_after_its_worker_died_takes_the_server_already_made(physics, physicist, ubuntu, small):
    machine = create(physics, physicist, ubuntu, small)
    driver = driver_for_tenancy(physics)
    # Attempt 1 made the server and its worker died before storing its id; the job is queued again.
    made = driver.machine_create(
        name=machine.name, image_id=ubuntu, size_id=small, metadata={"atrium_machine": str(machine.pk)}
    )
    Job.objects.filter(target_id=str(machine.pk)).update(attempts=1, max_attempts=2)

    job = run_latest(machine)

    machine.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED, job.error
    assert machine.cloud_id == made.id
    assert [m.id for m in driver.machines()] == [made.id]  # not a second server
    assert job.log_lines.filter(message__startswith="Found the server an earlier attempt created").exists()


def test_a_resumed_create_deletes_a_second_server_an_earlier_attempt_asked_for(physics, physicist, ubuntu, small):
    machine = create(physics, physicist, ubuntu, small)
    driver = driver_for_tenancy(physics)
    # Two attempts each asked the cloud and died before storing the id; the cloud made both servers.
    made = [
        driver.machine_create(
            name=machine.name, image_id=ubuntu, size_id=small, metadata={"atrium_machine": str(machine.pk)}
        )
        for _ in range(2)
    ]
    Job.objects.filter(target_id=str(machine.pk)).update(attempts=2, max_attempts=3)

    job = run_latest(machine)

    machine.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED, job.error
    assert machine.cloud_id in {m.id for m in made}
    assert [m.id for m in driver.machines()] == [machine.cloud_id]  # the other one is gone
    assert job.log_lines.filter(message__startswith="Deleted the server").exists()


def test_another_tenancys_machine_cannot_be_attached(physics, biology, physicist, biologist, ubuntu, small):
    theirs = services.machine_create(tenancy=biology, user=biologist, name="theirs", image_id=ubuntu, size_id=small).row
    ip = services.external_ip_allocate(tenancy=physics, user=physicist).row
    run_latest(ip)
    ip.refresh_from_db()
    with pytest.raises(BadInput):
        services.external_ip_attach(ip=ip, machine=theirs, user=physicist)
