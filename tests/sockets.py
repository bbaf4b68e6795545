"""Websocket clients for tests: the real ASGI application (Origin check, session
auth) and the configured channel layer (Redis in the PostgreSQL run).

Every socket a scenario opens is closed before the scenario's event loop ends.
Otherwise `async_to_sync` cancels what is left when it closes the loop, and a
consumer cancelled twice at once (by the loop's teardown and by its own
cleanup) is a fragile path: with a Redis socket timeout, Python 3.11's
asyncio.wait_for lost the cancellation, the consumer polled Redis for ever, and
the suite hung in CI on a refused socket that was never closed. `opened` and
`refusal` close their socket whatever happens, so a failed assertion fails the
test instead of hanging it.
"""

import html
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from channels.testing import WebsocketCommunicator
from django.test import Client

from portal.asgi import application

ORIGIN = b"http://127.0.0.1"
HOST = b"127.0.0.1"


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def live_path(page: str) -> str:
    """The tenancy socket a rendered page connects to (its `ws-connect`)."""
    found = re.search(r'ws-connect="(/ws/tenancies/[^"]+)"', page)
    assert found, "the page has no live tenancy socket"
    return html.unescape(found.group(1))


def _communicator(path: str, cookie: bytes | None, origin: bytes, extra: dict[bytes, bytes]) -> WebsocketCommunicator:
    headers = [(b"origin", origin), *{b"host": HOST, **extra}.items()]
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, path, headers=headers)


def _headers(given: dict[str, bytes]) -> dict[bytes, bytes]:
    return {name.replace("_", "-").encode(): value for name, value in given.items()}


# Seconds a handshake may take (channels' default); a test opening a burst of many raises it.
HANDSHAKE_TIMEOUT = 1.0


@asynccontextmanager
async def opened(
    path: str, cookie: bytes | None, origin: bytes = ORIGIN, **headers: bytes
) -> AsyncIterator[WebsocketCommunicator]:
    """A socket the server accepted, closed on the way out. `headers`: more
    request headers, or another Host (`host=b"..."`; `x_forwarded_proto=`)."""
    page = _communicator(path, cookie, origin, _headers(headers))
    try:
        connected, code = await page.connect(timeout=HANDSHAKE_TIMEOUT)
        assert connected, f"{path} was refused (close code {code})"
        yield page
    finally:
        await page.disconnect()


async def refusal(path: str, cookie: bytes | None, origin: bytes = ORIGIN, **headers: bytes) -> int | None:
    """Connect expecting to be refused; the close code the server gave."""
    page = _communicator(path, cookie, origin, _headers(headers))
    try:
        connected, code = await page.connect()
    finally:
        await page.disconnect()
    assert not connected, f"{path} was accepted"
    return code


async def receive_until(page: WebsocketCommunicator, text: str, timeout: float = 5) -> str:
    """Everything the page received up to and including `text`."""
    seen = ""
    while text not in seen:
        seen += await page.receive_from(timeout=timeout)
    return seen
