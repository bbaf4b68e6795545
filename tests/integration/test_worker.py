"""The real worker process (`manage.py worker`) against the test database."""

import os
import signal
import subprocess
import sys
import time

import pytest
from django.db import connection
from django.test import Client
from django_tasks_db.models import DBTaskResult

from apps.jobs.models import WorkerHeartbeat
from tests.factories import UserFactory
from tests.integration.tasks import add
from tests.servers import ROOT, base_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def worker_database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = settings["USER"] or "postgres"
    return f"postgres://{user}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{settings['NAME']}"


def operator() -> Client:
    """/healthz names the failing check only to operators (staff, signed in)."""
    client = Client()
    client.force_login(UserFactory(is_staff=True))
    return client


def start_worker(tmp_path) -> subprocess.Popen[bytes]:
    env = base_env(DATABASE_URL=worker_database_url(), ATRIUM_VAR_DIR=str(tmp_path))
    return subprocess.Popen(
        [sys.executable, "manage.py", "worker", "--interval", "0.1"],
        cwd=ROOT,
        env=env,
        stdout=(tmp_path / "worker.log").open("wb"),
        stderr=subprocess.STDOUT,
    )


def wait_for(predicate, what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_worker_runs_enqueued_tasks_and_reports_a_heartbeat(tmp_path):
    worker = start_worker(tmp_path)
    try:
        result = add.enqueue(2, 3)
        wait_for(lambda: DBTaskResult.objects.get(pk=result.id).status == "SUCCESSFUL", "the task to succeed")
        assert DBTaskResult.objects.get(pk=result.id).return_value == 5
        assert WorkerHeartbeat.objects.filter(pid=worker.pid, stopped_at__isnull=True).exists()
        assert Client().get("/healthz").status_code == 200
    finally:
        worker.send_signal(signal.SIGINT)
        worker.wait(timeout=20)
    # A clean stop is recorded, so /healthz stops counting this worker at once.
    heartbeat = WorkerHeartbeat.objects.get(pid=worker.pid)
    assert heartbeat.stopped_at is not None
    assert operator().get("/healthz").json()["failing"] == ["worker"]


def test_a_killed_worker_is_noticed_by_healthz(tmp_path, settings):
    settings.ATRIUM_WORKER_HEARTBEAT_TIMEOUT = 2
    worker = start_worker(tmp_path)
    wait_for(lambda: WorkerHeartbeat.objects.filter(pid=worker.pid).exists(), "the worker's first heartbeat")
    wait_for(lambda: Client().get("/healthz").status_code == 200, "healthz to see the worker")
    os.kill(worker.pid, signal.SIGKILL)  # no clean stop: only the heartbeat going stale tells
    worker.wait()
    ops = operator()
    body = wait_for(lambda: (r := ops.get("/healthz")).status_code == 503 and r.json(), "healthz to notice", timeout=10)
    assert body["failing"] == ["worker"]
    assert "no worker heartbeat in the last 2 s" in body["checks"]["worker"]["detail"]
