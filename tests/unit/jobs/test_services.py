"""Jobs: creation, the target lock, the runner's end states, retries,
cancellation of queued jobs, recovery and sync scheduling. The runner runs
here in the test process (`job_run`, the code the worker's task calls);
tests/integration runs it in real worker processes."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from apps.core.errors import Conflict
from apps.jobs.models import Job, JobStage, TenancySync, WorkerHeartbeat
from apps.jobs.runner import job_run
from apps.jobs.services import (
    job_cancel,
    job_create,
    jobs_promote_waiting,
    jobs_recover_stale,
    jobs_requeue_lost,
    tenancy_syncs_start_due,
)
from apps.jobs.sync import register_tenancy_sync, unregister_tenancy_sync
from tests.factories import JobStageFactory, TenancySyncFactory, WorkerHeartbeatFactory

pytestmark = pytest.mark.django_db(transaction=True)


def steps_job(tenancy, user=None, **params) -> Job:
    return job_create(kind="test.steps", tenancy=tenancy, target=tenancy, requested_by=user, params=params)


def messages(job: Job) -> list[str]:
    return list(job.log_lines.values_list("message", flat=True))


def test_a_job_runs_its_stages_and_records_result_progress_and_log(physics, physicist):
    job = steps_job(physics, physicist)
    assert job.state == Job.State.QUEUED
    assert job_run(job.pk) == "succeeded"
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED
    assert job.progress == 100
    assert job.result == {"built": True, "attempt": 1}
    assert job.attempts == 1
    assert job.started_at is not None
    assert job.finished_at is not None
    assert job.started_at <= job.finished_at
    assert [(s.name, s.state) for s in job.stages.all()] == [
        ("Prepare", "succeeded"),
        ("Build", "succeeded"),
        ("Check", "succeeded"),
    ]
    log = messages(job)
    assert log[0] == "Queued by physicist."
    assert "Build: working" in log
    assert log[-1] == "Finished."
    assert not Job.objects.filter(lock__isnull=False).exists()  # the target is free


def test_a_job_that_fails_midway_records_the_stage_and_the_error(physics):
    job = steps_job(physics, fail_at="Build")
    assert job_run(job.pk) == "failed"
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert job.error == "Failed during “Build”: Build went wrong: the image is unusable"
    assert job.attempts == 1  # not a retryable error
    assert [(s.name, s.state) for s in job.stages.all()] == [
        ("Prepare", "succeeded"),
        ("Build", "failed"),
        ("Check", "pending"),
    ]
    assert job.progress == 33
    assert messages(job)[-1] == job.error


def test_retryable_errors_are_retried_with_backoff_and_others_are_not(physics):
    job = steps_job(physics, flaky_until=1)
    assert job_run(job.pk) == "retrying"
    job.refresh_from_db()
    assert job.state == Job.State.QUEUED
    assert "Attempt 1 failed during “Build”: the cloud did not answer. Trying again in 0.2 s." in messages(job)
    retry = DBTaskResult.objects.filter(args_kwargs__args=[job.pk]).order_by("-enqueued_at").first()
    assert retry is not None
    assert retry.run_after is not None  # deferred: backoff
    assert Job.objects.filter(pk=job.pk, lock__isnull=False).exists()  # still holds its target
    with pytest.raises(Conflict):
        steps_job(physics)

    assert job_run(job.pk) == "succeeded"
    job.refresh_from_db()
    assert job.attempts == 2
    assert job.result == {"built": True, "attempt": 2}


def test_retries_stop_after_max_attempts(physics):
    job = steps_job(physics, flaky_until=99)
    assert [job_run(job.pk) for _ in range(3)] == ["retrying", "retrying", "failed"]
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert job.attempts == 3
    assert job.error == "Failed during “Build”: the cloud did not answer"


def test_jobs_are_enqueued_only_after_the_transaction_commits(physics):
    with transaction.atomic():
        job = steps_job(physics)
        assert not DBTaskResult.objects.exists()
    task = DBTaskResult.objects.get()
    assert task.args_kwargs["args"] == [job.pk]
    job.refresh_from_db()
    assert job.task_id == str(task.pk)


def test_a_rolled_back_job_is_never_enqueued(physics):
    def request_that_fails() -> None:
        with transaction.atomic():
            steps_job(physics)
            raise RuntimeError("the request failed after all")

    with pytest.raises(RuntimeError):
        request_that_fails()
    assert not Job.objects.exists()
    assert not DBTaskResult.objects.exists()


def test_a_second_job_on_a_busy_target_is_refused_or_waits_its_turn(physics, biology):
    first = steps_job(physics)
    with pytest.raises(Conflict) as refused:
        steps_job(physics)
    assert (
        refused.value.message == f"Physics is busy with job #{first.pk} (Three steps); try again when it has finished."
    )
    steps_job(biology)  # another target is free

    waiting = job_create(kind="test.steps", tenancy=physics, target=physics, on_busy="wait")
    assert f"Waiting for job #{first.pk} (Three steps) on Physics to finish." in messages(waiting)
    assert job_run(waiting.pk).startswith("skipped")  # not its turn: it does not hold the lock
    assert Job.objects.get(pk=waiting.pk).state == Job.State.QUEUED

    tasks_before = DBTaskResult.objects.count()
    assert job_run(first.pk) == "succeeded"
    assert DBTaskResult.objects.count() == tasks_before + 1  # the waiting one was enqueued
    assert "Its turn: the target is free." in messages(waiting)
    assert job_run(waiting.pk) == "succeeded"


def test_waiting_jobs_left_without_a_holder_are_started_by_the_sweep(physics):
    first = steps_job(physics)
    waiting = job_create(kind="test.steps", tenancy=physics, target=physics, on_busy="wait")
    # As if the holder ended while the waiting job was being created:
    Job.objects.filter(pk=first.pk).update(state=Job.State.SUCCEEDED)
    first.lock.delete()
    assert jobs_promote_waiting() == 1
    assert job_run(waiting.pk) == "succeeded"


def test_cancelling_a_queued_job_ends_it_and_frees_the_target(physics, physicist):
    job = steps_job(physics)
    job = job_cancel(job=job, user=physicist)
    assert job.state == Job.State.CANCELLED
    assert job.error == "Cancelled by physicist."
    assert job_run(job.pk).startswith("skipped")
    steps_job(physics)  # free again
    with pytest.raises(Conflict, match="already cancelled"):
        job_cancel(job=job, user=physicist)


def running_job_of_a_dead_worker(tenancy, kind: str) -> Job:
    job = job_create(kind=kind, tenancy=tenancy, target=tenancy, params={"hang_first": True})
    long_ago = timezone.now() - timedelta(minutes=5)
    WorkerHeartbeatFactory(worker_id="dead", hostname="node7", pid=4242, last_seen=long_ago)
    Job.objects.filter(pk=job.pk).update(
        state=Job.State.RUNNING, worker_id="dead", attempts=1, heartbeat_at=long_ago, started_at=long_ago
    )
    JobStageFactory(job=job, position=0, name="Wait", state=JobStage.State.RUNNING, started_at=long_ago)
    return job


def test_a_job_of_a_dead_worker_is_failed_with_a_clear_message(physics):
    job = running_job_of_a_dead_worker(physics, "test.slow")
    TenancySyncFactory(tenancy=physics, next_run_at=timezone.now() + timedelta(hours=1))
    assert [j.pk for j in jobs_recover_stale()] == [job.pk]
    # The tenancy is re-read from its cloud at the next worker round, not in an hour.
    assert TenancySync.objects.get(tenancy=physics).next_run_at <= timezone.now()
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert job.error.startswith("The worker running this job (node7:4242) stopped unexpectedly while it ran.")
    assert job.stages.get().state == JobStage.State.FAILED
    assert jobs_recover_stale() == []  # once
    steps_job(physics)  # the target is free again


def test_a_resumable_job_of_a_dead_worker_runs_again(physics):
    job = running_job_of_a_dead_worker(physics, "test.slow_resumable")
    jobs_recover_stale()
    job.refresh_from_db()
    assert job.state == Job.State.QUEUED
    assert "The worker running this job (node7:4242) stopped unexpectedly; running it again." in messages(job)
    assert job_run(job.pk) == "succeeded"
    assert Job.objects.get(pk=job.pk).attempts == 2


def test_a_job_of_a_live_worker_is_left_alone(physics):
    job = running_job_of_a_dead_worker(physics, "test.slow")
    WorkerHeartbeat.objects.filter(worker_id="dead").update(last_seen=timezone.now())
    assert jobs_recover_stale() == []
    assert Job.objects.get(pk=job.pk).state == Job.State.RUNNING


def test_due_tenancy_syncs_start_once_and_are_rescheduled(physics, biology, settings):
    settings.ATRIUM_SYNC_INTERVAL = 600
    seen = []
    register_tenancy_sync("Test hook")(lambda ctx, tenancy: seen.append(tenancy.name))
    try:
        now = timezone.now()
        started = tenancy_syncs_start_due(now=now)
        assert sorted(j.target_repr for j in started) == ["Biology", "Physics"]
        assert tenancy_syncs_start_due(now=now) == []  # claimed: a second worker starts nothing
        schedule = TenancySync.objects.get(tenancy=physics)
        assert schedule.next_run_at == now + timedelta(seconds=600)
        assert schedule.last_job is not None

        for job in started:
            assert job_run(job.pk) == "succeeded"
        assert sorted(seen) == ["Biology", "Physics"]
        sync = Job.objects.get(pk=schedule.last_job.pk)
        # Every registered hook is a stage, the apps' own (machines) and this one.
        assert [(s.name, s.state) for s in sync.stages.all()] == [("Machines", "succeeded"), ("Test hook", "succeeded")]
        assert sync.result == {"hooks": ["Machines", "Test hook"]}

        assert tenancy_syncs_start_due(now=now + timedelta(seconds=599)) == []
        assert len(tenancy_syncs_start_due(now=now + timedelta(seconds=601))) == 2
    finally:
        unregister_tenancy_sync("Test hook")


def test_the_periodic_sync_can_be_turned_off(physics, settings):
    settings.ATRIUM_SYNC_INTERVAL = 0
    assert tenancy_syncs_start_due() == []
    assert not Job.objects.exists()


def test_a_job_whose_task_was_lost_is_enqueued_again(physics, settings):
    settings.ATRIUM_JOB_REQUEUE_AFTER = 900
    job = steps_job(physics)
    waiting = job_create(kind="test.steps", tenancy=physics, target=physics, on_busy="wait")
    assert jobs_requeue_lost() == []  # recent
    later = timezone.now() + timedelta(seconds=901)
    tasks = DBTaskResult.objects.count()
    assert [j.pk for j in jobs_requeue_lost(now=later)] == [job.pk]  # not the one waiting its turn
    assert DBTaskResult.objects.count() == tasks + 1
    assert jobs_requeue_lost() == []  # just handed over
    assert job_run(job.pk) == "succeeded"
    assert job_run(job.pk).startswith("skipped")  # the first task, arriving late, does nothing
    assert waiting.pk != job.pk


def settled_job(tenancy, **params) -> Job:
    return job_create(kind="test.settled", tenancy=tenancy, target=tenancy, params=params)


def test_a_job_ending_without_success_settles_its_target_saying_whether_it_ran(physics, physicist):
    cancelled = job_cancel(job=settled_job(physics), user=physicist)
    assert "settle: ran=False target=Physics state=cancelled" in messages(cancelled)

    before = settled_job(physics, fail_before=True)
    job_run(before.pk)
    assert "settle: ran=False target=Physics state=failed" in messages(before)

    midway = settled_job(physics, fail_at="Build")
    job_run(midway.pk)
    assert "settle: ran=True target=Physics state=failed" in messages(midway)

    done = settled_job(physics)
    job_run(done.pk)
    assert not [m for m in messages(done) if m.startswith("settle:")]


def test_a_waiting_job_cancelled_does_not_settle_the_target_another_job_holds(physics, physicist):
    holder = settled_job(physics)
    waiting = job_create(kind="test.settled", tenancy=physics, target=physics, on_busy="wait")
    job_cancel(job=waiting, user=physicist)
    assert not [m for m in messages(waiting) if m.startswith("settle:")]
    assert Job.objects.get(pk=holder.pk).state == Job.State.QUEUED


def test_settling_may_start_a_follow_up_job_on_the_target(physics, physicist):
    job = settled_job(physics, fail_at="Prepare", follow="test.steps")
    job_run(job.pk)
    follow = Job.objects.filter(kind="test.steps").get()
    assert (follow.target_id, follow.state) == (str(physics.pk), Job.State.QUEUED)
    assert f"Job #{follow.pk} (Three steps) follows Physics until it settles." in messages(job)
    assert job_run(follow.pk) == "succeeded"


def test_a_settle_that_fails_does_not_undo_the_end_of_the_job(physics, physicist):
    job = job_cancel(job=settled_job(physics, settle_fails=True), user=physicist)
    assert job.state == Job.State.CANCELLED
    steps_job(physics)  # the target is free


def test_a_job_the_task_backend_could_not_take_is_created_and_handed_over_soon(physics, settings):
    """Redis down (here: the RQ backend pointed at a port nothing listens on): the job is
    recorded anyway, and the sweep hands it over seconds later, not ATRIUM_JOB_REQUEUE_AFTER."""
    from tests.servers import free_port

    database_backend = settings.TASKS
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    settings.RQ_QUEUES = {settings.ATRIUM_JOB_QUEUE: {"URL": nowhere}, "default": {"URL": nowhere}}
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default", settings.ATRIUM_JOB_QUEUE]}
    }
    job = steps_job(physics)
    assert Job.objects.get(pk=job.pk).task_id == ""

    settings.TASKS = database_backend  # the backend is back
    assert jobs_requeue_lost() == []  # a moment's grace: a new job's task id comes after its commit
    assert [j.pk for j in jobs_requeue_lost(now=timezone.now() + timedelta(seconds=10))] == [job.pk]
    assert Job.objects.get(pk=job.pk).task_id
    assert job_run(job.pk) == "succeeded"
