from datetime import timedelta

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from apps.jobs.models import WorkerHeartbeat
from tests.factories import UserFactory, WorkerHeartbeatFactory


def beat(seconds_ago: float, *, worker_id: str = "w1", stopped: bool = False) -> WorkerHeartbeat:
    seen = timezone.now() - timedelta(seconds=seconds_ago)
    return WorkerHeartbeatFactory(
        worker_id=worker_id, hostname="node1", pid=123, last_seen=seen, stopped_at=seen if stopped else None
    )


@pytest.fixture
def client(db) -> Client:
    """An operator (staff, signed in): /healthz shows them every check's detail."""
    operator = Client()
    operator.force_login(UserFactory(username="ops", is_staff=True))
    return operator


@pytest.mark.django_db
def test_healthy_when_database_channel_layer_and_a_worker_are_fine(client: Client):
    beat(1)
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["failing"] == []
    assert set(body["checks"]) == {"database", "channel_layer", "worker"}
    assert body["checks"]["worker"]["detail"] == "1 worker alive"


@pytest.mark.django_db
def test_no_worker_ever_is_503_naming_the_worker(client: Client):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["worker"]
    assert "manage.py worker" in body["checks"]["worker"]["detail"]
    assert body["checks"]["database"]["ok"] is True


@pytest.mark.django_db
@override_settings(ATRIUM_WORKER_HEARTBEAT_TIMEOUT=30)
def test_stale_or_stopped_worker_is_503(client: Client):
    beat(120, worker_id="old")
    beat(1, worker_id="stopped", stopped=True)
    body = client.get("/healthz").json()
    assert body["failing"] == ["worker"]
    assert "no worker heartbeat in the last 30 s" in body["checks"]["worker"]["detail"]


@pytest.mark.django_db
@override_settings(
    CHANNEL_LAYERS={
        # Nothing listens on port 9 of loopback: a real connection failure.
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:9/0"]}}
    }
)
def test_unreachable_channel_layer_is_503_naming_it(client: Client):
    beat(1)
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    try:
        response = client.get("/healthz")
    finally:
        channel_layers.backends.clear()
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["channel_layer"]
    assert (
        "Connect" in body["checks"]["channel_layer"]["detail"] or "refused" in body["checks"]["channel_layer"]["detail"]
    )


@pytest.mark.django_db
def test_healthz_is_not_cached(client: Client):
    beat(1)
    assert "no-cache" in client.get("/healthz")["Cache-Control"]


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["anonymous", "member"])
def test_load_balancers_and_members_get_a_bare_status(who, physicist):
    visitor = Client()
    if who == "member":
        visitor.force_login(physicist)
    assert visitor.get("/healthz").json() == {"status": "unavailable"}  # no worker yet
    beat(1)
    response = visitor.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    page = response.content.decode()
    for detail in ("sqlite", "postgresql", "worker", "Layer", "ms"):
        assert detail not in page


@pytest.mark.django_db
def test_a_failing_check_is_503_without_saying_which_to_anonymous(client: Client):
    beat(120)  # gone
    anonymous = Client().get("/healthz")
    assert anonymous.status_code == 503
    assert anonymous.json() == {"status": "unavailable"}
    assert client.get("/healthz").json()["failing"] == ["worker"]
