"""Writes for worker plumbing."""

import os
import socket
from datetime import timedelta

from django.utils import timezone

from .models import WorkerHeartbeat


def worker_heartbeat_start(*, worker_id: str, backend: str) -> WorkerHeartbeat:
    # Rows of workers gone for a day are only noise.
    WorkerHeartbeat.objects.filter(last_seen__lt=timezone.now() - timedelta(days=1)).delete()
    heartbeat, _ = WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
            "backend": backend,
            "started_at": timezone.now(),
            "last_seen": timezone.now(),
            "stopped_at": None,
        },
    )
    return heartbeat


def worker_heartbeat_beat(*, worker_id: str) -> None:
    WorkerHeartbeat.objects.filter(worker_id=worker_id).update(last_seen=timezone.now())


def worker_heartbeat_stop(*, worker_id: str) -> None:
    WorkerHeartbeat.objects.filter(worker_id=worker_id).update(stopped_at=timezone.now())
