"""The live-events websocket, through the real ASGI application (Origin check,
session auth) and the configured channel layer (Redis in the PostgreSQL run)."""

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from apps.core.events import push_to_user
from portal.asgi import application


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def communicator(cookie: bytes | None = None, origin: bytes = b"http://127.0.0.1") -> WebsocketCommunicator:
    headers = [(b"origin", origin), (b"host", b"127.0.0.1")]
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, "/ws/events/", headers=headers)


@pytest.mark.django_db(transaction=True)
def test_a_user_receives_fragments_pushed_to_them_and_not_to_others(physicist, biologist):
    mine, theirs = session_cookie(physicist), session_cookie(biologist)

    async def scenario():
        me, other = communicator(mine), communicator(theirs)
        assert (await me.connect())[0]
        assert (await other.connect())[0]
        await sync_to_async(push_to_user)(
            user_id=physicist.pk, html='<div id="toasts" hx-swap-oob="beforeend">hi</div>'
        )
        assert "hi" in await me.receive_from(timeout=3)
        assert await other.receive_nothing(timeout=0.3)
        await me.disconnect()
        await other.disconnect()

    async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
def test_signed_out_connections_are_refused():
    async def scenario():
        connected, code = await communicator(None).connect()
        assert not connected
        assert code == 4401

    async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
def test_connections_from_another_origin_are_refused(physicist):
    cookie = session_cookie(physicist)

    async def scenario():
        connected, _ = await communicator(cookie, origin=b"https://evil.example").connect()
        assert not connected

    async_to_sync(scenario)()
