"""Health checks behind /healthz: database, channel layer, worker heartbeat."""

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.utils import timezone


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    ms: float


def _timed(name: str, fn) -> Check:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    try:
        ok, detail = fn()
    except Exception as exc:  # noqa: BLE001 - a health check reports any failure
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return Check(name=name, ok=ok, detail=detail, ms=round((time.perf_counter() - start) * 1000, 1))


def _database() -> tuple[bool, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return True, connection.vendor


async def _channel_round_trip() -> str:
    import asyncio

    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    channel = await layer.new_channel("healthz.")
    token = uuid.uuid4().hex
    await layer.send(channel, {"type": "healthz", "token": token})
    message = await asyncio.wait_for(layer.receive(channel), timeout=2)
    if message.get("token") != token:
        raise RuntimeError("channel layer returned another message")
    return type(layer).__name__


def _channel_layer() -> tuple[bool, str]:
    return True, async_to_sync(_channel_round_trip)()


def _worker() -> tuple[bool, str]:
    from apps.jobs.models import WorkerHeartbeat

    timeout = settings.ATRIUM_WORKER_HEARTBEAT_TIMEOUT
    alive = WorkerHeartbeat.objects.alive(timeout=timedelta(seconds=timeout)).count()
    if alive:
        return True, f"{alive} worker{'s' if alive != 1 else ''} alive"
    last = WorkerHeartbeat.objects.order_by("-last_seen").first()
    if last is None:
        return False, "no worker has ever reported; start one with `manage.py worker`"
    ago = int((timezone.now() - last.last_seen).total_seconds())
    return False, f"no worker heartbeat in the last {timeout} s (last seen {ago} s ago on {last.hostname})"


def run_checks() -> list[Check]:
    return [
        _timed("database", _database),
        _timed("channel_layer", _channel_layer),
        _timed("worker", _worker),
    ]
