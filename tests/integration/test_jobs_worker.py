"""Jobs in real worker processes (`manage.py worker`) on the test database:
serialisation on one target, kill -9 recovery, cancellation reaching a
subprocess, and the RQ backend against the real Redis."""

import os
import secrets
import signal
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.utils import timezone

from apps.jobs.models import Job, TenancySync, WorkerHeartbeat
from apps.jobs.services import job_cancel, job_create
from tests.workers import start_worker, stop, wait_for, workers

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def state(job: Job) -> str:
    job.refresh_from_db()
    return job.state


def log_text(job: Job) -> str:
    return "\n".join(job.log_lines.values_list("message", flat=True))


def test_two_jobs_on_one_target_run_one_after_the_other(tmp_path, physics, biology):
    marker = tmp_path / "marker.txt"
    with workers(tmp_path, count=2):
        first = job_create(
            kind="test.steps", tenancy=physics, target=physics, params={"marker": str(marker), "pause": 0.3}
        )
        second = job_create(
            kind="test.steps",
            tenancy=physics,
            target=physics,
            params={"marker": str(marker), "pause": 0.1},
            on_busy="wait",
        )
        other = job_create(kind="test.steps", tenancy=biology, target=biology, params={"pause": 0.3})
        jobs = (first, second, other)
        wait_for(lambda: all(state(j) == Job.State.SUCCEEDED for j in jobs), "the jobs to succeed", logs=tmp_path)
    lines = marker.read_text().split()
    owners = [line.split(":")[0] for line in lines]
    # All of the first job's steps, then all of the second's: never interleaved.
    assert owners == [str(first.pk)] * 6 + [str(second.pk)] * 6
    assert second.started_at is not None
    assert first.finished_at is not None
    assert second.started_at >= first.finished_at


@pytest.mark.parametrize(
    ("kind", "end_state", "expected"),
    [
        ("test.slow", Job.State.FAILED, "stopped unexpectedly while it ran"),
        ("test.slow_resumable", Job.State.SUCCEEDED, "stopped unexpectedly; running it again"),
    ],
)
def test_a_job_whose_worker_is_killed_is_recovered(tmp_path, physics, kind, end_state, expected):
    doomed = start_worker(tmp_path, "doomed")
    try:
        job = job_create(kind=kind, tenancy=physics, target=physics, params={"hang_first": True, "seconds": 120})
        wait_for(lambda: "waiting 120 s" in log_text(job), "the job to start", logs=tmp_path)
    finally:
        os.kill(doomed.pid, signal.SIGKILL)  # no clean stop, no chance to record anything
        doomed.wait()
    assert state(job) == Job.State.RUNNING  # nothing told the database
    rescuer = start_worker(tmp_path, "rescuer")
    try:
        wait_for(lambda: state(job) == end_state, f"the job to be {end_state}", timeout=40, logs=tmp_path)
    finally:
        stop(rescuer)
    assert expected in log_text(job)
    if end_state == Job.State.FAILED:
        assert "The worker running this job" in job.error
        assert job.stages.get(name="Wait").state == "failed"
    else:
        assert job.attempts == 2
    # The target is free again.
    job_create(kind="test.steps", tenancy=physics, target=physics)


def sweeps_done(since, count: int) -> bool:
    """Every live worker has beaten (and swept) again a second after `since`."""
    later = since + timedelta(seconds=1)
    beats = WorkerHeartbeat.objects.filter(stopped_at__isnull=True)
    return beats.count() == count and not beats.filter(last_seen__lt=later).exists()


def test_several_workers_start_each_periodic_sync_once_and_a_restart_keeps_the_schedule(tmp_path, physics, biology):
    syncs = Job.objects.filter(kind="tenancy.sync")
    with workers(tmp_path, count=2, env={"ATRIUM_SYNC_INTERVAL": "3600"}):
        wait_for(lambda: syncs.filter(state=Job.State.SUCCEEDED).count() == 2, "a sync of each", logs=tmp_path)
        since = timezone.now()
        wait_for(lambda: sweeps_done(since, 2), "both workers to sweep a few more times", logs=tmp_path)
    assert sorted(syncs.values_list("target_repr", flat=True)) == ["Biology", "Physics"]
    assert all(job.requested_by is None for job in syncs)
    next_run = TenancySync.objects.get(tenancy=physics).next_run_at

    with workers(tmp_path, env={"ATRIUM_SYNC_INTERVAL": "3600"}):
        since = timezone.now()
        wait_for(lambda: sweeps_done(since, 1), "the restarted worker to sweep", logs=tmp_path)
    # The schedule lives in the database: a restart starts nothing that is not due.
    assert syncs.count() == 2
    assert TenancySync.objects.get(tenancy=physics).next_run_at == next_run


def process_gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"  # a zombie is dead, only not yet reaped


def test_cancelling_a_job_stops_its_running_subprocess(tmp_path, physics, physicist):
    pidfile = tmp_path / "sleep.pid"
    with workers(tmp_path):
        job = job_create(kind="test.subprocess", tenancy=physics, target=physics, params={"pidfile": str(pidfile)})
        wait_for(lambda: "started" in log_text(job) and pidfile.exists(), "the subprocess to start", logs=tmp_path)
        sleeper = int(pidfile.read_text())
        assert not process_gone(sleeper)
        job_cancel(job=job, user=physicist)
        wait_for(lambda: state(job) == Job.State.CANCELLED, "the job to be cancelled", logs=tmp_path)
        wait_for(lambda: process_gone(sleeper), "the subprocess's child to be killed", timeout=10)
    assert "Cancellation requested by physicist." in log_text(job)
    assert "Stopping the command (cancelled)." in log_text(job)
    assert job.stages.get().state == "cancelled"


@pytest.fixture
def rq_backend(settings):
    url = os.environ.get("REDIS_URL") or os.environ.get("ATRIUM_TEST_REDIS_URL")
    if not url:
        pytest.skip("no Redis configured (REDIS_URL or ATRIUM_TEST_REDIS_URL)")
    queue = f"atrium-test-jobs-{secrets.token_hex(4)}"
    settings.ATRIUM_JOB_QUEUE = queue
    settings.RQ_QUEUES = {queue: {"URL": url}, "default": {"URL": url}}
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default", queue]}}
    yield {"REDIS_URL": url, "TASK_BACKEND": "rq", "ATRIUM_JOB_QUEUE": queue}
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(f"rq:*{queue}*"):
        client.delete(key)


def test_the_rq_backend_runs_jobs_and_retries_through_redis(tmp_path, physics, rq_backend):
    with workers(tmp_path, env=rq_backend):
        job = job_create(kind="test.steps", tenancy=physics, target=physics, params={"flaky_until": 1})
        wait_for(lambda: state(job) == Job.State.SUCCEEDED, "the job to succeed through RQ", logs=tmp_path)
    assert job.attempts == 2
    assert "Trying again in 0.2 s" in log_text(job)
    assert job.worker_id.startswith("worker0-")


def test_a_job_whose_rq_worker_is_killed_is_resumed_through_redis(tmp_path, physics, rq_backend):
    doomed = start_worker(tmp_path, "doomed", **rq_backend)
    try:
        job = job_create(
            kind="test.slow_resumable", tenancy=physics, target=physics, params={"hang_first": True, "seconds": 120}
        )
        wait_for(lambda: "waiting 120 s" in log_text(job), "the job to start", logs=tmp_path)
    finally:
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait()
    rescuer = start_worker(tmp_path, "rescuer", **rq_backend)
    try:
        wait_for(lambda: state(job) == Job.State.SUCCEEDED, "the job to run again", timeout=40, logs=tmp_path)
    finally:
        stop(rescuer)
    assert "stopped unexpectedly; running it again" in log_text(job)
    assert job.attempts == 2
    assert job.worker_id.startswith("rescuer-")
