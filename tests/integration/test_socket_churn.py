"""Pages come and go: every consumer ends when its browser's socket closes.

uvicorn serves the real ASGI application in this process (so its tasks can be
counted) with the configured channel layer (Redis in the PostgreSQL run). With
a Redis socket timeout, redis-py sends each command through asyncio.wait_for,
which on Python 3.11 can swallow a cancellation: now and then the consumer of
a closed socket never ended and polled Redis for ever (in about two runs of
three of this test). The settings now give the layer no socket timeout.
"""

import asyncio
import contextlib
import threading
import time

import pytest
import uvicorn
import websockets

from portal.asgi import application
from tests.servers import free_port, run_in_thread
from tests.sockets import session_cookie

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def name(task: asyncio.Task) -> str:
    return str(getattr(task.get_coro(), "__qualname__", task))


def test_no_consumer_outlives_its_socket(physics, physicist):
    port = free_port()
    config = uvicorn.Config(application, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()
    serving = threading.Thread(target=loop.run_until_complete, args=(server.serve(),), daemon=True)
    serving.start()
    cookie = session_cookie(physicist).decode()
    paths = ["ws/events/", f"ws/tenancies/{physics.pk}/?jobs=&new=1", "ws/tenancies/0/"]

    async def page(index: int) -> None:
        headers = {"Cookie": cookie} if index % 4 else {}  # some signed out: refused
        try:
            async with websockets.connect(
                f"ws://127.0.0.1:{port}/{paths[index % len(paths)]}",
                origin=websockets.Origin(f"http://127.0.0.1:{port}"),
                additional_headers=headers,
                open_timeout=10,
            ) as socket:
                with contextlib.suppress(TimeoutError, websockets.ConnectionClosed):
                    await asyncio.wait_for(socket.recv(), timeout=0.05 * (index % 7))
        except (websockets.InvalidStatus, websockets.ConnectionClosed):
            pass

    async def pages_come_and_go() -> None:
        for _ in range(3):
            await asyncio.gather(*(page(index) for index in range(50)))

    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        run_in_thread(lambda: asyncio.run(pages_come_and_go()))
        # Every socket is closed: give the consumers a moment to end, then count what is left.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            left = [t for t in asyncio.all_tasks(loop) if name(t) != "Server.serve"]
            if not left:
                break
            time.sleep(0.2)
        assert [name(t) for t in left] == []
    finally:
        server.should_exit = True
        serving.join(timeout=10)
