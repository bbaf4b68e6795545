"""`manage.py worker`: run background jobs, with a heartbeat.

Runs the worker of the configured task backend (TASK_BACKEND): django-tasks-db's
worker for `database`, an RQ worker for `rq`. Beside it a thread keeps this
process's heartbeat row fresh (read by /healthz and job recovery) and does the
workers' shared chores (apps.jobs.services.worker_maintenance): recover jobs of
dead workers, start jobs left waiting, start due tenancy syncs.
"""

import logging
import threading
from argparse import ArgumentParser
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, connection
from django.utils.crypto import get_random_string

from apps.jobs import runner
from apps.jobs.services import (
    worker_heartbeat_beat,
    worker_heartbeat_start,
    worker_heartbeat_stop,
    worker_maintenance,
)

logger = logging.getLogger("apps.jobs.worker")

# What a backend's worker gives the command: run (blocks until told to stop),
# a tick for the heartbeat thread, and a clean-up.
WorkerParts = tuple[Callable[[], None], Callable[[], None] | None, Callable[[], None]]


def _nothing() -> None:
    pass


class Heartbeat(threading.Thread):
    def __init__(
        self, worker_id: str, interval: float, maintenance: bool = True, tick: Callable[[], None] | None = None
    ):
        super().__init__(name="heartbeat", daemon=True)
        self.worker_id = worker_id
        self.interval = interval
        self.maintenance = maintenance
        self.tick = tick
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                close_old_connections()
                worker_heartbeat_beat(worker_id=self.worker_id)
                if self.maintenance:
                    worker_maintenance()
                if self.tick is not None:
                    self.tick()
            except Exception:
                logger.exception("Heartbeat failed; retrying in %s s", self.interval)
        connection.close()


class Command(BaseCommand):
    help = "Run a background worker for Atrium's jobs (with a heartbeat for /healthz)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--queue-name", default="*", help="Queues to process, comma-separated ('*' = all of Atrium's)."
        )
        parser.add_argument("--interval", type=float, default=0.5, help="Seconds between polls when idle (database).")
        parser.add_argument("--worker-id", default="", help="Unique id (default: random).")
        parser.add_argument(
            "--no-maintenance", action="store_true", help="Only run jobs; leave recovery and syncs to other workers."
        )

    def handle(
        self, *args: Any, queue_name: str, interval: float, worker_id: str, no_maintenance: bool, **options: Any
    ) -> None:
        backend = str(settings.TASKS["default"]["BACKEND"])
        worker_id = worker_id or get_random_string(32)
        if backend.startswith("django_tasks_db."):
            run, tick, finish = self._database_worker(queue_name, interval, worker_id)
        elif backend.startswith("django_tasks_rq."):
            run, tick, finish = self._rq_worker(queue_name, worker_id)
        else:
            raise CommandError(f"TASK_BACKEND {settings.TASK_BACKEND!r} has no worker to run here.")
        runner.WORKER_ID = worker_id
        worker_heartbeat_start(worker_id=worker_id, backend=settings.TASK_BACKEND)
        heartbeat = Heartbeat(
            worker_id, settings.ATRIUM_WORKER_HEARTBEAT_INTERVAL, maintenance=not no_maintenance, tick=tick
        )
        heartbeat.start()
        self.stdout.write(f"Worker {worker_id} started ({settings.TASK_BACKEND}, queues: {queue_name}).")
        try:
            run()
        finally:
            heartbeat.stopping.set()
            heartbeat.join(timeout=5)
            finish()
            close_old_connections()
            worker_heartbeat_stop(worker_id=worker_id)
            self.stdout.write(f"Worker {worker_id} stopped.")

    def _queues(self, queue_name: str) -> list[str]:
        configured = sorted(settings.TASKS["default"].get("QUEUES", ["default"]))
        return configured if queue_name == "*" else queue_name.split(",")

    def _database_worker(self, queue_name: str, interval: float, worker_id: str) -> WorkerParts:
        from django_tasks_db.management.commands.db_worker import Worker

        worker = Worker(
            queue_names=queue_name.split(","),
            interval=interval,
            batch=False,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id=worker_id,
            excluded_queue_names=[],
        )
        worker.configure_signals()
        return worker.run, None, _nothing

    def _rq_worker(self, queue_name: str, worker_id: str) -> WorkerParts:
        import django_rq
        from django_tasks_rq.backend import Job as TaskJob
        from rq.scheduler import RQScheduler
        from rq.worker import SimpleWorker

        # SimpleWorker runs jobs in this process (no fork), like the database
        # worker: one database connection per thread, and the heartbeat beside it.
        worker = django_rq.get_worker(
            *self._queues(queue_name),
            job_class=TaskJob,
            worker_class=SimpleWorker,  # type: ignore[arg-type]  # a Worker subclass; django-rq's hint is narrower
            name=worker_id,
        )
        # RQ's scheduler (it moves jobs whose run_after has come, i.e. retries,
        # onto the queue) runs in the heartbeat thread, not in the forked process
        # RQ would start: that process outlives a worker killed with SIGKILL.
        # One worker at a time holds its Redis lock, which expires if that worker dies.
        scheduler = RQScheduler(worker.queues, connection=worker.connection, name=f"{worker_id}-scheduler")

        def tick() -> None:
            # rq leaves these two unannotated.
            if scheduler.acquire_locks():  # type: ignore[no-untyped-call]
                scheduler.enqueue_scheduled_jobs()  # type: ignore[no-untyped-call]

        def run() -> None:
            worker.work(with_scheduler=False, logging_level=settings.LOG_LEVEL)

        return run, tick, scheduler.release_locks
