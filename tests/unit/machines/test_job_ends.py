"""A job that ends without succeeding (cancelled while queued, cancelled while it ran,
failed before it reached the cloud) leaves its row usable: deletable, with its actions,
counting for no quota it does not use. Jobs run here with `job_run` (a worker's code)."""

import json
from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from apps.clouds.models import LocalMachine
from apps.clouds.registry import driver_for_tenancy
from apps.jobs.models import Job, JobLock, JobStage
from apps.jobs.runner import job_run
from apps.jobs.services import job_cancel, jobs_recover_stale, tenancy_sync_start
from apps.machines import services
from apps.machines.models import ExternalIp, FirewallRule, Machine, Volume
from apps.tenancies.models import Cloud
from tests.factories import JobStageFactory

from .conftest import quota_set

API = "/api/v1"


def jobs_of(obj) -> list[Job]:
    content_type = ContentType.objects.get_for_model(obj)
    return list(Job.objects.filter(target_type=content_type, target_id=str(obj.pk)).order_by("pk"))


def latest_job(obj) -> Job:
    return jobs_of(obj)[-1]


def worker_died_in(job: Job, stage: str) -> None:
    """The job's worker took it, started `stage` and was killed (its heartbeats stopped long ago)."""
    long_ago = timezone.now() - timedelta(minutes=5)
    Job.objects.filter(pk=job.pk).update(
        state=Job.State.RUNNING, attempts=1, worker_id="gone", heartbeat_at=long_ago, started_at=long_ago
    )
    JobStageFactory(job=job, position=0, name=stage, state=JobStage.State.RUNNING, started_at=long_ago)


def api_create(client, tenancy, what, body) -> dict:
    response = client.post(f"{API}/tenancies/{tenancy.pk}/{what}/", json.dumps(body), content_type="application/json")
    assert response.status_code == 202, response.content
    return response.json()


def api_cancel(client, job_id) -> dict:
    response = client.post(f"{API}/jobs/{job_id}/cancel/")
    assert response.status_code in (200, 202), response.content
    return response.json()


def quota_used(client, tenancy, resource) -> int:
    quotas = client.get(f"{API}/tenancies/{tenancy.pk}/quotas/").json()["results"]
    return next(q["used"] for q in quotas if q["resource"] == resource)


def test_a_machine_create_cancelled_while_queued_leaves_no_row_and_frees_the_quota(
    physicist_client, physics, cloud, ubuntu, small
):
    quota_set(physics, machines=1)
    accepted = api_create(physicist_client, physics, "machines", {"name": "a", "image_id": ubuntu, "size_id": small})
    assert quota_used(physicist_client, physics, "machines") == 1

    cancelled = api_cancel(physicist_client, accepted["id"])

    assert cancelled["state"] == "cancelled"
    assert physicist_client.get(accepted["machine"]["url"]).status_code == 404
    assert physicist_client.get(f"{API}/tenancies/{physics.pk}/machines/").json()["count"] == 0
    assert quota_used(physicist_client, physics, "machines") == 0
    # The quota is free again, and so is the name.
    api_create(physicist_client, physics, "machines", {"name": "a", "image_id": ubuntu, "size_id": small})


def test_a_volume_create_cancelled_while_queued_leaves_no_row(physicist_client, physics):
    accepted = api_create(physicist_client, physics, "volumes", {"name": "data", "size_gb": 10})
    api_cancel(physicist_client, accepted["id"])
    assert physicist_client.get(accepted["volume"]["url"]).status_code == 404
    assert quota_used(physicist_client, physics, "volumes") == 0


def test_an_external_ip_allocation_cancelled_while_queued_leaves_no_row(physicist_client, physics):
    accepted = api_create(physicist_client, physics, "external-ips", {})
    api_cancel(physicist_client, accepted["id"])
    assert physicist_client.get(accepted["external_ip"]["url"]).status_code == 404
    assert not ExternalIp.objects.exists()


def test_an_action_cancelled_while_queued_gives_the_machine_its_actions_back(physicist_client, physicist, machine):
    job = services.machine_action(machine=machine, user=physicist, action="stop")
    machine.refresh_from_db()
    assert machine.task == "stopping"

    api_cancel(physicist_client, job.pk)

    machine.refresh_from_db()
    assert machine.task == ""
    assert services.machine_actions(machine) == ["stop", "restart", "delete"]
    response = physicist_client.delete(f"{API}/tenancies/{machine.tenancy_id}/machines/{machine.pk}/")
    assert response.status_code == 202, response.content


def test_a_delete_cancelled_while_queued_keeps_the_machine_usable(physicist, machine):
    job = services.machine_delete(machine=machine, user=physicist)
    job_cancel(job=job, user=physicist)
    machine.refresh_from_db()
    assert (machine.task, machine.status) == ("", "ACTIVE")
    assert "delete" in services.machine_actions(machine)


def test_firewall_rule_add_and_remove_cancelled_while_queued(physicist, machine):
    rule = services.firewall_rule_add(machine=machine, user=physicist, protocol="tcp", port_min=8888).row
    job_cancel(job=latest_job(rule), user=physicist)
    assert not FirewallRule.objects.filter(pk=rule.pk).exists()  # only recorded: gone

    ssh = machine.firewall_rules.first()
    job_cancel(job=services.firewall_rule_remove(rule=ssh, user=physicist), user=physicist)
    ssh.refresh_from_db()
    assert ssh.task == ""


def test_a_create_that_fails_before_reaching_the_cloud_leaves_no_row(physics, physicist, cloud, ubuntu, small):
    machine = services.machine_create(tenancy=physics, user=physicist, name="a", image_id=ubuntu, size_id=small).row
    volume = services.volume_create(tenancy=physics, user=physicist, name="data", size_gb=5).row
    # The operator points the cloud at a driver this Atrium does not have: the jobs fail before any stage.
    Cloud.objects.filter(pk=cloud.pk).update(driver="retired")

    for obj in (machine, volume):
        job = latest_job(obj)
        job_run(job.pk)
        job.refresh_from_db()
        assert job.state == Job.State.FAILED
        assert "unknown driver" in job.error
    assert not Machine.objects.exists()
    assert not Volume.objects.exists()


def test_an_action_that_fails_before_reaching_the_cloud_clears_the_task(physicist, cloud, machine):
    job = services.machine_action(machine=machine, user=physicist, action="stop")
    Cloud.objects.filter(pk=cloud.pk).update(driver="retired")
    job_run(job.pk)
    machine.refresh_from_db()
    assert (machine.task, machine.status) == ("", "ACTIVE")


@pytest.mark.django_db(transaction=True)  # the job's watcher thread reads the cancel from its own connection
def test_a_create_cancelled_while_building_ends_usable_once_the_cloud_has_built_it(
    physics, physicist, cloud, ubuntu, small, settings
):
    """Cancelled while it waits for the build: the server exists, so the row stays, and a
    follow-up job watches it until the cloud has finished, when its actions come back."""
    settings.ATRIUM_JOB_HEARTBEAT_INTERVAL = 0.1
    Cloud.objects.filter(pk=cloud.pk).update(options={"build_seconds": 1, "action_seconds": 0})
    machine = services.machine_create(tenancy=physics, user=physicist, name="a", image_id=ubuntu, size_id=small).row
    job = latest_job(machine)
    # Asked to cancel just after it has started: the wait notices.
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    job_run(job.pk)
    job.refresh_from_db()
    machine.refresh_from_db()
    assert job.state == Job.State.CANCELLED
    assert machine.cloud_id, "the server was made before the wait noticed the cancel"

    follow = latest_job(machine)
    assert follow.kind == "machines.observe"
    job_run(follow.pk)
    follow.refresh_from_db()
    machine.refresh_from_db()
    assert follow.state == Job.State.SUCCEEDED, follow.error
    assert (machine.task, machine.status) == ("", "ACTIVE")
    assert "delete" in services.machine_actions(machine)
    assert not JobLock.objects.exists()


def test_a_stop_whose_worker_died_is_followed_until_the_machine_has_stopped(physics, physicist, cloud, machine):
    """Item 5: the recovery does not leave the row "stopping" until the next periodic sync."""
    Cloud.objects.filter(pk=cloud.pk).update(options={"build_seconds": 0, "action_seconds": 0.5})
    job = services.machine_action(machine=machine, user=physicist, action="stop")
    # A worker took it, asked the cloud to stop the server, and died (kill -9) before storing anything.
    worker_died_in(job, "Stop the server")
    driver_for_tenancy(physics).machine_stop(machine_id=machine.cloud_id)

    [recovered] = jobs_recover_stale()

    assert recovered.state == Job.State.FAILED
    follow = latest_job(machine)
    assert follow.kind == "machines.observe"
    job_run(follow.pk)
    machine.refresh_from_db()
    assert (machine.task, machine.status) == ("", "STOPPED")
    assert services.machine_actions(machine) == ["start", "delete"]
    assert LocalMachine.objects.get(uid=machine.cloud_id).status == "STOPPED"


def test_the_sync_frees_rows_left_by_jobs_that_ended_before_this_fix(physics, physicist, ubuntu, small):
    """Rows stuck "building" by a cancelled job (before jobs settled their rows) are fixed by the sync."""
    machine = services.machine_create(tenancy=physics, user=physicist, name="a", image_id=ubuntu, size_id=small).row
    job = latest_job(machine)
    Job.objects.filter(pk=job.pk).update(state=Job.State.CANCELLED)
    JobLock.objects.all().delete()

    sync = tenancy_sync_start(tenancy=physics, requested_by=physicist)
    job_run(sync.pk)

    machine.refresh_from_db()
    assert (machine.task, machine.status) == ("", "ERROR")
    assert services.machine_actions(machine) == ["delete"]


def test_deleting_a_request_in_error_deletes_the_server_its_create_made_after_all(physics, physicist, ubuntu, small):
    """A create that failed without storing the server's id (it may have reached the cloud) leaves
    the row in error; deleting it leaves no server behind on the cloud."""
    machine = services.machine_create(tenancy=physics, user=physicist, name="a", image_id=ubuntu, size_id=small).row
    job = latest_job(machine)
    # Its worker made the server and died before storing its id; no attempts are left.
    Job.objects.filter(pk=job.pk).update(max_attempts=1)
    driver = driver_for_tenancy(physics)
    driver.machine_create(name="a", image_id=ubuntu, size_id=small, metadata={"atrium_machine": str(machine.pk)})
    worker_died_in(job, "Create server")
    jobs_recover_stale()
    machine.refresh_from_db()
    assert (machine.status, machine.task, machine.cloud_id) == ("ERROR", "", "")
    assert services.machine_actions(machine) == ["delete"]

    delete = services.machine_delete(machine=machine, user=physicist)
    job_run(delete.pk)

    assert not Machine.objects.exists()
    assert driver.machines() == []


def test_a_volume_attach_whose_worker_died_is_followed_until_the_row_shows_it_attached(physics, physicist, machine):
    volume = services.volume_create(tenancy=physics, user=physicist, name="data", size_gb=5).row
    job_run(latest_job(volume).pk)
    job = services.volume_attach(volume=Volume.objects.get(pk=volume.pk), machine=machine, user=physicist)
    worker_died_in(job, "Attach the volume")
    volume.refresh_from_db()
    driver_for_tenancy(physics).volume_attach(volume_id=volume.cloud_id, machine_id=machine.cloud_id)

    jobs_recover_stale()
    volume.refresh_from_db()
    assert (volume.task, volume.status, volume.machine) == ("", "AVAILABLE", None)  # what the job last stored
    follow = latest_job(volume)
    assert follow.kind == "machines.volume_observe"
    job_run(follow.pk)

    volume.refresh_from_db()
    assert (volume.task, volume.status, volume.machine) == ("", "IN_USE", machine)
