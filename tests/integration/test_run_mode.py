"""`make run`'s stack for real: uvicorn and the worker under supervisord from
supervisord.conf, on a free port, with the demo data; HTTP, websockets, a
worker that dies, and Ctrl-C."""

import asyncio
import functools
import os
import re
import signal
import time

import pytest
import requests
import websockets

from tests.servers import Portal, isolated_database, manage, run_in_thread, running_portal, sign_in
from tests.workers import wait_for

pytestmark = pytest.mark.slow


async def websocket_opens(url: str, *, cookie: str | None, origin: str) -> bool:
    headers = {"Cookie": cookie} if cookie else {}
    try:
        async with websockets.connect(
            url.replace("http://", "ws://") + "ws/events/",
            origin=websockets.Origin(origin),
            additional_headers=headers,
            open_timeout=10,
        ) as socket:
            await socket.ping()
            # A refused socket is accepted by the server's handshake only to be closed at once.
            try:
                await asyncio.wait_for(socket.recv(), timeout=0.5)
            except TimeoutError:
                return True
            return True
    except (websockets.InvalidStatus, websockets.ConnectionClosed):
        return False


def test_the_portal_serves_pages_api_websockets_and_stops_on_ctrl_c(tmp_path):
    with running_portal(tmp_path) as portal:
        health = requests.get(f"{portal.url}healthz", timeout=10).json()
        assert health == {"status": "ok"}, health  # all checks, the worker's too; details for operators only

        physicist = sign_in(portal.url, "physicist")
        home = physicist.get(portal.url, timeout=10).text
        assert "Physics" in home
        assert "Biology" not in home
        api = physicist.get(f"{portal.url}api/v1/tenancies/", timeout=10).json()
        assert [t["name"] for t in api["results"]] == ["Physics"]
        assert requests.get(f"{portal.url}static/vendor/htmx/htmx.min.js", timeout=10).status_code == 200

        cookie = f"sessionid={physicist.cookies['sessionid']}"
        origin = portal.url.rstrip("/")
        assert run_in_thread(lambda: asyncio.run(websocket_opens(portal.url, cookie=cookie, origin=origin)))
        assert not run_in_thread(lambda: asyncio.run(websocket_opens(portal.url, cookie=None, origin=origin)))
        for foreign in ("https://evil.example", "http://127.0.0.1:9999", origin.replace("http:", "https:")):
            opens = websocket_opens(portal.url, cookie=cookie, origin=foreign)
            assert not run_in_thread(functools.partial(asyncio.run, opens)), foreign

        code = portal.interrupt()
        output = portal.output()
        assert "stopped: web" in output
        assert "stopped: worker" in output
        assert code == 0, output


def test_running_again_keeps_the_data(tmp_path):
    with isolated_database(tmp_path) as database, running_portal(tmp_path, database_url=database) as portal:
        operator = sign_in(portal.url, "operator")
        page = operator.get(f"{portal.url}admin/tenancies/tenancy/add/", timeout=10)
        csrf = operator.cookies["csrftoken"]
        cloud_id = page.text.split('<option value="', 2)[2].split('"', 1)[0]
        created = operator.post(
            f"{portal.url}admin/tenancies/tenancy/add/",
            data={
                "name": "Chemistry",
                "cloud": cloud_id,
                "project_id": "chemistry",
                "csrfmiddlewaretoken": csrf,
                "memberships-TOTAL_FORMS": "0",
                "memberships-INITIAL_FORMS": "0",
            },
            headers={"Referer": page.url},
            timeout=10,
        )
        assert created.status_code == 200
        assert "Chemistry" in created.text
        portal.interrupt()
        # The same database again: migrate and load_demo run again, as `make run` does.
        with running_portal(tmp_path, database_url=database) as again:
            operator = sign_in(again.url, "operator")
            assert "Chemistry" in operator.get(f"{again.url}admin/tenancies/tenancy/", timeout=10).text
            assert sign_in(again.url, "physicist")


def worker_pids(portal: Portal) -> list[int]:
    """The pids supervisord started the worker with, in order."""
    return [int(pid) for pid in re.findall(r"spawned: 'worker' with pid (\d+)", portal.output())]


def beating_pids(portal: Portal) -> set[int]:
    """Pids of the workers whose heartbeat row was touched in the last 2 s (the interval is 0.5 s)."""
    out = manage(
        "shell",
        "--no-imports",
        "-c",
        "from datetime import timedelta; from apps.jobs.models import WorkerHeartbeat as W; "
        "print(*W.objects.alive(timeout=timedelta(seconds=2)).values_list('pid', flat=True))",
        env=portal.env,
    )
    return {int(pid) for pid in out.split()}


def test_a_worker_that_dies_is_restarted_and_the_web_server_keeps_serving(tmp_path):
    # No periodic sync: a sync the killed worker was running would hold the
    # tenancy (409 for "Refresh now") until its recovery, 30 s later.
    with running_portal(tmp_path, ATRIUM_SYNC_INTERVAL="0") as portal:
        physicist = sign_in(portal.url, "physicist")
        first = wait_for(lambda: worker_pids(portal), "the worker to start")[0]
        wait_for(lambda: first in beating_pids(portal), "the worker's heartbeat")

        os.kill(first, signal.SIGKILL)
        # The web server answers all the while (with honcho, it was stopped with the worker).
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            assert physicist.get(f"{portal.url}api/v1/tenancies/", timeout=10).status_code == 200
            time.sleep(0.2)
        second = wait_for(lambda: [pid for pid in worker_pids(portal) if pid != first], "a new worker")[0]
        assert "exited: worker (terminated by SIGKILL; not expected)" in portal.output()
        wait_for(lambda: second in beating_pids(portal), "the new worker's heartbeat")

        # And it runs jobs: "Refresh now" on the tenancy.
        tenancy = physicist.get(f"{portal.url}api/v1/tenancies/", timeout=10).json()["results"][0]["id"]
        response = physicist.post(
            f"{portal.url}api/v1/tenancies/{tenancy}/sync/",
            headers={"X-CSRFToken": physicist.cookies["csrftoken"] or "", "Referer": portal.url},
            timeout=10,
        )
        assert response.status_code == 202, response.text
        job = response.json()

        def state() -> str | None:
            found = physicist.get(f"{portal.url}api/v1/jobs/{job['id']}/", timeout=10).json()["state"]
            return found if found in ("succeeded", "failed", "cancelled") else None

        assert wait_for(state, "the job to end", timeout=60) == "succeeded"
        assert worker_pids(portal)[-1] == second

        assert portal.interrupt() == 0
