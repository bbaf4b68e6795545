"""`manage.py worker`: run background tasks, with a heartbeat.

The database task backend's worker (django-tasks-db's `db_worker`) does the
work; this adds a heartbeat row that /healthz and job recovery read.
"""

import logging
import threading
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, connection
from django.utils.crypto import get_random_string
from django_tasks_db.management.commands.db_worker import Worker

from apps.jobs.services import worker_heartbeat_beat, worker_heartbeat_start, worker_heartbeat_stop

logger = logging.getLogger("apps.jobs.worker")


class Heartbeat(threading.Thread):
    def __init__(self, worker_id: str, interval: float):
        super().__init__(name="heartbeat", daemon=True)
        self.worker_id = worker_id
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                close_old_connections()
                worker_heartbeat_beat(worker_id=self.worker_id)
            except Exception:
                logger.exception("Heartbeat failed; retrying in %s s", self.interval)
        connection.close()


class Command(BaseCommand):
    help = "Run a background worker for Atrium's jobs (with a heartbeat for /healthz)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--queue-name", default="*", help="Queues to process, comma-separated ('*' = all).")
        parser.add_argument("--interval", type=float, default=0.5, help="Seconds between polls when idle.")
        parser.add_argument("--worker-id", default="", help="Unique id (default: random).")

    def handle(self, *args: Any, queue_name: str, interval: float, worker_id: str, **options: Any) -> None:
        backend = settings.TASKS["default"]["BACKEND"]
        if not backend.startswith("django_tasks_db."):
            raise CommandError(f"TASK_BACKEND {settings.TASK_BACKEND!r} has no worker to run here.")
        worker_id = worker_id or get_random_string(32)
        worker_heartbeat_start(worker_id=worker_id, backend=settings.TASK_BACKEND)
        heartbeat = Heartbeat(worker_id, settings.ATRIUM_WORKER_HEARTBEAT_INTERVAL)
        heartbeat.start()
        self.stdout.write(f"Worker {worker_id} started (queues: {queue_name}).")
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
        try:
            worker.run()
        finally:
            heartbeat.stopping.set()
            heartbeat.join(timeout=5)
            close_old_connections()
            worker_heartbeat_stop(worker_id=worker_id)
            self.stdout.write(f"Worker {worker_id} stopped.")
