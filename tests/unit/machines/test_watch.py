"""The tenancy's cloud watcher (apps.jobs.watch): while builds wait, one list call a round for all
of them, and only the jobs whose server changed look again. Jobs and rounds run here with the
workers' code (`job_run(requeue_waits=True)`, `watch_round`) on the local cloud."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from apps.clouds.models import LocalFault, LocalMachine
from apps.jobs import watch
from apps.jobs.models import CloudWatch, Job
from apps.jobs.runner import job_run
from apps.jobs.watch import watch_round, watches_rearm
from apps.machines import services
from apps.machines.jobs.machines import SERVERS
from apps.machines.models import Machine
from tests.factories import LocalFaultFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def slow_cloud(cloud, settings):
    cloud.options = {"build_seconds": 60, "action_seconds": 60}
    cloud.save(update_fields=["options"])
    settings.ATRIUM_WAIT_FIRST_LOOK = 5
    return cloud


@pytest.fixture
def listings(monkeypatch):
    """Counts the watcher's calls to the cloud (each goes through to the local cloud)."""
    family = watch.FAMILIES[SERVERS]
    calls: list[str] = []

    def counted(tenancy, user):
        calls.append(tenancy.name)
        return family.listing(tenancy, user)

    monkeypatch.setitem(watch.FAMILIES, SERVERS, watch.WatchFamily(SERVERS, counted, family.fingerprint))
    return calls


def due(job: Job) -> None:
    Job.objects.filter(pk=job.pk).update(next_look_at=timezone.now())


def waiting_builds(physics, physicist, ubuntu, small, count: int) -> list[Job]:
    """`count` builds, each having looked once and found its server building."""
    jobs = []
    for _ in range(count):
        services.machine_create(
            tenancy=physics, user=physicist, name=f"vm-{Machine.objects.count()}", image_id=ubuntu, size_id=small
        )
        job = Job.objects.latest("pk")
        assert job_run(job.pk, requeue_waits=True) == "waiting"  # asked for the server
        due(job)
        assert job_run(job.pk, requeue_waits=True) == "waiting"  # looked: still building
        jobs.append(job)
    return jobs


def round_now(tenancy) -> str:
    row = CloudWatch.objects.get(tenancy=tenancy, family=SERVERS)
    CloudWatch.objects.filter(pk=row.pk).update(due_at=timezone.now())
    return watch_round(row.pk)


def test_a_waiting_build_leaves_its_looks_to_the_watcher(
    settings, slow_cloud, physics, physicist, ubuntu, small, django_capture_on_commit_callbacks
):
    settings.ATRIUM_WATCH_BACKSTOP = 30
    with django_capture_on_commit_callbacks(execute=True):
        (job,) = waiting_builds(physics, physicist, ubuntu, small, 1)
    job.refresh_from_db()
    server = Machine.objects.get(pk=job.target_id).cloud_id
    assert job.watch is not None
    assert job.watch["family"] == SERVERS
    assert job.watch["id"] == server
    assert job.watch["seen"].startswith("BUILD")
    # It looks on its own only after the backstop; the watcher's round is due in a moment.
    assert job.next_look_at is not None
    assert 29 < (job.next_look_at - timezone.now()).total_seconds() <= 30
    row = CloudWatch.objects.get(tenancy=physics, family=SERVERS)
    assert row.due_at is not None
    assert 0 < (row.due_at - timezone.now()).total_seconds() <= settings.ATRIUM_WATCH_INTERVAL
    assert DBTaskResult.objects.filter(task_path="apps.jobs.tasks.watch_cloud", args_kwargs__args=[row.pk]).exists()


def test_one_list_call_a_round_wakes_only_the_job_whose_server_changed(
    slow_cloud, physics, physicist, ubuntu, small, listings
):
    jobs = waiting_builds(physics, physicist, ubuntu, small, 3)
    assert round_now(physics) == "woke 0 of 3"
    assert listings == ["Physics"]  # one call for three builds
    looks = [Job.objects.get(pk=job.pk).next_look_at for job in jobs]

    # The cloud finishes the second build.
    server = Machine.objects.get(pk=jobs[1].target_id).cloud_id
    LocalMachine.objects.filter(uid=server).update(settles_at=timezone.now())
    assert round_now(physics) == "woke 1 of 3"
    assert len(listings) == 2
    after = [Job.objects.get(pk=job.pk).next_look_at or timezone.now() for job in jobs]
    assert after[1] <= timezone.now() < after[0]
    assert (after[0], after[2]) == (looks[0], looks[2])

    assert job_run(jobs[1].pk, requeue_waits=True) == "succeeded"
    assert Machine.objects.get(pk=jobs[1].target_id).status == "ACTIVE"
    # The others wait on, and the round goes on while they do.
    assert round_now(physics) == "woke 0 of 2"
    assert CloudWatch.objects.get(tenancy=physics).due_at is not None


def test_a_round_moves_the_progress_of_the_builds_it_does_not_wake(
    slow_cloud, physics, physicist, ubuntu, small, listings
):
    (job,) = waiting_builds(physics, physicist, ubuntu, small, 1)
    job.refresh_from_db()
    before = job.progress
    Job.objects.filter(pk=job.pk).update(waiting_since=timezone.now() - timedelta(seconds=10))
    round_now(physics)
    job.refresh_from_db()
    assert before + 5 <= job.progress < 80  # the build's share of the job ends at 80
    assert job.state == Job.State.QUEUED


def test_the_watcher_rests_when_nothing_waits_and_comes_back_with_the_next_wait(
    slow_cloud, physics, physicist, ubuntu, small, listings
):
    (job,) = waiting_builds(physics, physicist, ubuntu, small, 1)
    server = Machine.objects.get(pk=job.target_id).cloud_id
    LocalMachine.objects.filter(uid=server).update(settles_at=timezone.now())
    assert round_now(physics) == "woke 1 of 1"
    assert job_run(job.pk, requeue_waits=True) == "succeeded"
    assert round_now(physics) == "woke 0 of 0; nothing waits now"
    assert len(listings) == 1  # nothing to look at: no call
    row = CloudWatch.objects.get(tenancy=physics)
    assert (row.due_at, row.claimed_at) == (None, None)
    assert watch_round(row.pk).startswith("skipped")  # a late task finds nothing due

    waiting_builds(physics, physicist, ubuntu, small, 1)
    assert CloudWatch.objects.get(tenancy=physics).due_at is not None


def test_a_round_lost_with_its_worker_is_given_again(slow_cloud, physics, physicist, ubuntu, small):
    waiting_builds(physics, physicist, ubuntu, small, 1)
    row = CloudWatch.objects.get(tenancy=physics)
    assert watches_rearm() == 0  # due in a moment: its task is on its way
    # A worker took the round and died in it.
    long_ago = timezone.now() - timedelta(minutes=1)
    CloudWatch.objects.filter(pk=row.pk).update(claimed_at=long_ago, due_at=long_ago)
    assert watches_rearm() == 1
    row.refresh_from_db()
    assert row.claimed_at is None
    assert row.due_at is not None
    assert watch_round(row.pk) == "woke 0 of 1"


def test_a_listing_that_fails_leaves_the_jobs_to_their_own_looks(
    slow_cloud, physics, physicist, ubuntu, small, listings
):
    (job,) = waiting_builds(physics, physicist, ubuntu, small, 1)
    before = Job.objects.get(pk=job.pk).next_look_at
    LocalFaultFactory(cloud=slow_cloud, operation="machines", kind=LocalFault.Kind.UNREACHABLE)
    assert round_now(physics) == "woke 0 of 1"
    assert listings == ["Physics"]
    assert Job.objects.get(pk=job.pk).next_look_at == before  # its backstop look stays
    assert CloudWatch.objects.get(tenancy=physics).due_at is not None  # and the watcher tries again


def test_a_server_gone_wakes_the_job_waiting_for_it(slow_cloud, physics, physicist, ubuntu, small):
    (job,) = waiting_builds(physics, physicist, ubuntu, small, 1)
    LocalMachine.objects.filter(uid=Machine.objects.get(pk=job.target_id).cloud_id).delete()
    assert round_now(physics) == "woke 1 of 1"


def test_a_build_is_watched_from_the_create_answer_on(settings, slow_cloud, physics, physicist, ubuntu, small):
    """The run that asks for the server does not look at it: the watcher compares with what the
    cloud answered the create, so no look is spent before the build has changed."""
    settings.ATRIUM_WATCH_BACKSTOP = 30
    services.machine_create(tenancy=physics, user=physicist, name="fresh", image_id=ubuntu, size_id=small)
    job = Job.objects.latest("pk")
    assert job_run(job.pk, requeue_waits=True) == "waiting"
    job.refresh_from_db()
    assert job.watch is not None
    assert job.watch["seen"] == "BUILD -"
    assert job.next_look_at is not None
    assert (job.next_look_at - timezone.now()).total_seconds() > 29


def test_a_woken_look_is_taken_before_new_work(
    slow_cloud, physics, physicist, ubuntu, small, django_capture_on_commit_callbacks
):
    (job,) = waiting_builds(physics, physicist, ubuntu, small, 1)
    LocalMachine.objects.filter(uid=Machine.objects.get(pk=job.target_id).cloud_id).update(settles_at=timezone.now())
    DBTaskResult.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        assert round_now(physics) == "woke 1 of 1"
        services.machine_create(tenancy=physics, user=physicist, name="next", image_id=ubuntu, size_id=small)
    fresh = Job.objects.latest("pk")
    ready = [task.args_kwargs["args"] for task in DBTaskResult.objects.ready() if task.task_path.endswith("run_job")]
    assert ready == [[job.pk], [fresh.pk]]  # the build that turned active ends before the next one starts
