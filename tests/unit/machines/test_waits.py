"""A job waiting for the cloud between its looks (apps.core.resources.jobs.wait): what the runner
records, when it looks again, what its deadline counts from, and what the sweeps do with it.
Jobs run here with `job_run` (a worker's code); `requeue_waits=True` is what a worker passes."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from apps.jobs.models import Job
from apps.jobs.runner import job_run
from apps.jobs.services import jobs_recover_stale, jobs_requeue_lost
from apps.machines import services
from apps.machines.models import Machine

pytestmark = pytest.mark.django_db


@pytest.fixture
def slow_cloud(cloud):
    cloud.options = {"build_seconds": 60, "action_seconds": 60}
    cloud.save(update_fields=["options"])
    return cloud


def new_build(physics, physicist, ubuntu, small) -> Job:
    services.machine_create(tenancy=physics, user=physicist, name="slow", image_id=ubuntu, size_id=small)
    return Job.objects.latest("pk")


def test_a_build_gives_the_worker_back_and_looks_again_when_due_without_spending_attempts(
    settings, slow_cloud, physics, physicist, ubuntu, small, django_capture_on_commit_callbacks
):
    settings.ATRIUM_WAIT_FIRST_LOOK = 5
    settings.ATRIUM_MACHINE_POLL_INTERVAL = 30
    # The tenancy's watcher follows the build (tests/unit/machines/test_watch.py); on its own, the
    # job looks after this long.
    settings.ATRIUM_WATCH_BACKSTOP = 5
    job = new_build(physics, physicist, ubuntu, small)

    with django_capture_on_commit_callbacks(execute=True):
        assert job_run(job.pk, requeue_waits=True) == "waiting"
    job.refresh_from_db()
    assert job.state == Job.State.QUEUED  # cancelled, it ends at once; the lock stays its own
    assert job.lock is not None
    assert job.waiting_for == "Building slow"
    assert job.next_look_at is not None
    assert 4 < (job.next_look_at - timezone.now()).total_seconds() <= 5
    assert job.stages.get(name="Wait until active").state == "running"
    assert Machine.objects.get(pk=job.target_id).task == "building"  # the row keeps its task meanwhile
    task = DBTaskResult.objects.latest("enqueued_at")
    assert task.run_after == job.next_look_at
    # A task that comes before the look is due (the job handed over twice) is dropped.
    assert job_run(job.pk, requeue_waits=True).startswith("skipped")

    Job.objects.filter(pk=job.pk).update(next_look_at=timezone.now())  # the look is due
    assert job_run(job.pk, requeue_waits=True) == "waiting"
    job.refresh_from_db()
    assert job.attempts == 1
    assert job.stages.get(name="Create server").state == "succeeded"
    log = list(job.log_lines.values_list("message", flat=True))
    assert sum(line.startswith("Attempt") for line in log) == 1
    assert log.count("Stage: Create server") == 1
    assert log.count("Stage: Wait until active") == 1
    assert log.count("Waiting for the cloud: Building slow.") == 1
    assert services.machine_actions(Machine.objects.get(pk=job.target_id)) == []


def test_the_deadline_counts_from_when_the_wait_began_not_from_each_look(
    settings, slow_cloud, physics, physicist, ubuntu, small
):
    settings.ATRIUM_MACHINE_TIMEOUT = 1
    job = new_build(physics, physicist, ubuntu, small)
    # Each attempt looks many times (every 0.05 s here) and still times out after a second.
    assert job_run(job.pk) == "retrying"
    assert job_run(job.pk) == "retrying"
    assert job_run(job.pk) == "failed"
    job.refresh_from_db()
    assert job.attempts == 3
    assert job.error == "Failed during “Wait until active”: Building slow took longer than 1 seconds."
    assert (job.waiting_for, job.waiting_since, job.next_look_at) == ("", None, None)
    assert job.stages.get(name="Wait until active").state == "failed"


def test_the_sweep_hands_over_again_a_waiting_job_whose_look_is_long_overdue(
    slow_cloud, physics, physicist, ubuntu, small
):
    job = new_build(physics, physicist, ubuntu, small)
    job_run(job.pk, requeue_waits=True)
    assert jobs_requeue_lost() == []  # due in a second: its task is on its way
    long_ago = timezone.now() - timedelta(minutes=5)
    Job.objects.filter(pk=job.pk).update(next_look_at=long_ago, updated_at=long_ago)
    assert [j.pk for j in jobs_requeue_lost()] == [job.pk]


def test_a_worker_that_died_during_a_look_leaves_a_job_that_looks_again(cloud, physicist, machine):
    cloud.options = {"action_seconds": 60}
    cloud.save(update_fields=["options"])
    stop = services.machine_action(machine=machine, user=physicist, action="stop")  # not resumable: it acts
    assert job_run(stop.pk, requeue_waits=True) == "waiting"
    # A worker takes the look and dies in it.
    long_ago = timezone.now() - timedelta(minutes=5)
    Job.objects.filter(pk=stop.pk).update(state=Job.State.RUNNING, worker_id="gone", heartbeat_at=long_ago)
    assert [j.pk for j in jobs_recover_stale()] == [stop.pk]
    stop.refresh_from_db()
    assert stop.state == Job.State.QUEUED
    assert stop.attempts == 1
    assert stop.waiting_for == "Stop web"
    assert stop.log_lines.filter(message__contains="while it looked at the cloud; looking again").exists()
    assert stop.stages.get(name="Wait until it has finished").state == "running"


def test_the_job_page_and_the_api_say_what_a_waiting_job_waits_for(
    slow_cloud, physicist_client, physics, physicist, ubuntu, small
):
    job = new_build(physics, physicist, ubuntu, small)
    job_run(job.pk, requeue_waits=True)
    body = physicist_client.get(f"/api/v1/jobs/{job.pk}/").json()
    assert (body["state"], body["waiting_for"]) == ("queued", "Building slow")
    assert body["waiting_since"] is not None
    assert body["progress"] >= 30
    page = physicist_client.get(f"/tenancies/{physics.pk}/jobs/{job.pk}/").content.decode()
    assert "Waiting for the cloud" in page
    assert "Building slow. No worker is held meanwhile" in page
    listing = physicist_client.get(f"/tenancies/{physics.pk}/jobs/").content.decode()
    assert "Waiting for the cloud" in listing


def test_a_new_job_is_taken_before_the_looks_that_are_due(
    settings, slow_cloud, physics, physicist, ubuntu, small, django_capture_on_commit_callbacks
):
    """A burst of creates does not queue behind the looks of the builds already in flight."""
    settings.ATRIUM_WAIT_FIRST_LOOK = 1
    building = new_build(physics, physicist, ubuntu, small)
    with django_capture_on_commit_callbacks(execute=True):
        assert job_run(building.pk, requeue_waits=True) == "waiting"
    runs = DBTaskResult.objects.filter(task_path="apps.jobs.tasks.run_job")
    runs.filter(args_kwargs__args=[building.pk]).update(run_after=timezone.now() - timedelta(seconds=5))
    with django_capture_on_commit_callbacks(execute=True):
        services.machine_create(tenancy=physics, user=physicist, name="next", image_id=ubuntu, size_id=small)
    fresh = Job.objects.latest("pk")
    ready = [task.args_kwargs["args"] for task in runs.ready()]
    assert sorted(ready) == sorted([[building.pk], [fresh.pk]])  # both are due
    assert ready[0] == [fresh.pk]  # the worker takes the new create first


def test_a_look_that_finds_the_cloud_not_done_costs_few_queries(
    settings, slow_cloud, physics, physicist, ubuntu, small, django_assert_max_num_queries
):
    """A look claims the job, reads it (with its tenancy, cloud and requester), its row and its
    stages, queues it again with its progress and what it saw, and makes sure the tenancy's
    watcher is coming (one locked read of its row); nothing else (the local cloud's own tables
    stand for the cloud's API)."""
    settings.ATRIUM_WAIT_FIRST_LOOK = 5
    job = new_build(physics, physicist, ubuntu, small)
    assert job_run(job.pk, requeue_waits=True) == "waiting"
    Job.objects.filter(pk=job.pk).update(next_look_at=timezone.now())  # the look is due
    assert job_run(job.pk, requeue_waits=True) == "waiting"  # the first look also makes the watcher
    Job.objects.filter(pk=job.pk).update(next_look_at=timezone.now())
    before = job.log_lines.count()
    with django_assert_max_num_queries(17) as captured:
        assert job_run(job.pk, requeue_waits=True) == "waiting"
    sql = [query["sql"] for query in captured.captured_queries]
    ours = [q for q in sql if "clouds_local" not in q and "SAVEPOINT" not in q]
    assert len(ours) <= 6, "\n".join(ours)
    job.refresh_from_db()
    assert (job.state, job.waiting_for, job.attempts) == (Job.State.QUEUED, "Building slow", 1)
    assert job.progress >= 30
    assert job.log_lines.count() == before  # a look that found nothing new says nothing
