"""Real `manage.py worker` processes against the test database, for the jobs tests."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from django.db import connection

from tests.servers import ROOT, base_env

T = TypeVar("T")


def worker_database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = settings["USER"] or "postgres"
    return f"postgres://{user}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{settings['NAME']}"


def start_worker(tmp_path: Path, name: str = "worker", **env: str) -> subprocess.Popen[bytes]:
    settings = {
        "DATABASE_URL": worker_database_url(),
        "ATRIUM_VAR_DIR": str(tmp_path),
        "ATRIUM_JOB_MODULES": "tests.jobkinds",
        "ATRIUM_WORKER_HEARTBEAT_INTERVAL": "0.3",
        "ATRIUM_WORKER_HEARTBEAT_TIMEOUT": "2",
        "ATRIUM_JOB_HEARTBEAT_INTERVAL": "0.2",
        "ATRIUM_JOB_KILL_GRACE": "2",
        "ATRIUM_SYNC_INTERVAL": "0",  # tests start syncs themselves, unless they say otherwise
    }
    environment = base_env(**{**settings, **env})
    return subprocess.Popen(
        [sys.executable, "manage.py", "worker", "--interval", "0.1", "--worker-id", f"{name}-{os.getpid()}"],
        cwd=ROOT,
        env=environment,
        stdout=(tmp_path / f"{name}.log").open("ab"),
        stderr=subprocess.STDOUT,
    )


def stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGINT)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


@contextlib.contextmanager
def workers(
    tmp_path: Path, *, count: int = 1, env: dict[str, str] | None = None
) -> Iterator[list[subprocess.Popen[bytes]]]:
    started = [start_worker(tmp_path, f"worker{i}", **(env or {})) for i in range(count)]
    try:
        yield started
    finally:
        for worker in started:
            stop(worker)


def wait_for(predicate: Callable[[], T], what: str, timeout: float = 30, logs: Path | None = None) -> T:
    """Poll until `predicate` is truthy (a deadline to wait, not a speed judgement)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    detail = ""
    if logs is not None:
        detail = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')}" for p in sorted(logs.glob("*.log")))
    raise AssertionError(f"timed out waiting for {what}\n{detail}")
