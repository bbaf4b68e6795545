"""`make run`'s stack for real: uvicorn and the worker under honcho from the
Procfile, on a free port, with the demo data; HTTP, websockets and Ctrl-C."""

import asyncio

import pytest
import requests
import websockets

from tests.servers import isolated_database, run_in_thread, running_portal

pytestmark = pytest.mark.slow


def sign_in(url: str, username: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{url}accounts/login/", timeout=10)
    response = session.post(
        f"{url}accounts/login/",
        data={"username": username, "password": username, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": f"{url}accounts/login/"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.url == url
    return session


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
        assert not run_in_thread(
            lambda: asyncio.run(websocket_opens(portal.url, cookie=cookie, origin="https://evil.example"))
        )

        code = portal.interrupt()
        output = portal.output()
        assert "web.1 stopped" in output
        assert "worker.1 stopped" in output
        assert code in (0, 130, -2), output


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
