"""The per-tenancy websocket through the real ASGI application (Origin check,
session auth) and the configured channel layer (Redis in the PostgreSQL run,
in-memory with its database re-read in the SQLite run)."""

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator

from apps.jobs.services import job_create, job_log
from apps.tenancies.models import Membership
from portal.asgi import application
from tests.unit.core.test_events_socket import session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


def socket(cookie: bytes | None, path: str, origin: bytes = b"http://127.0.0.1") -> WebsocketCommunicator:
    headers = [(b"origin", origin), (b"host", b"127.0.0.1")]
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, path, headers=headers)


async def receive_until(communicator: WebsocketCommunicator, text: str, timeout: float = 5) -> str:
    seen = ""
    while text not in seen:
        seen += await communicator.receive_from(timeout=timeout)
    return seen


def test_a_job_page_receives_its_summary_and_new_log_lines(physics, physicist):
    job = job_create(kind="test.steps", tenancy=physics, target=physics)
    last = job.log_lines.order_by("-id").first()
    assert last is not None

    cookie = session_cookie(physicist)

    async def scenario():
        page = socket(cookie, f"/ws/tenancies/{physics.pk}/?job={job.pk}&log_after={last.pk}")
        assert (await page.connect())[0]
        await sync_to_async(job_log)(job=job, message="Image uploaded")
        html = await receive_until(page, "Image uploaded")
        assert '<section id="job-summary" aria-label="Job status" hx-swap-oob="true">' in html
        assert '<ol id="job-log" hx-swap-oob="beforeend">' in html
        assert "Queued by" not in html  # rendered with the page already: not sent twice
        await page.disconnect()

    async_to_sync(scenario)()


def test_a_list_gets_rows_for_new_jobs_and_updates_its_own(physics, physicist):
    cookie = session_cookie(physicist)

    async def scenario():
        page = socket(cookie, f"/ws/tenancies/{physics.pk}/?jobs=&new=1")
        assert (await page.connect())[0]
        job = await sync_to_async(job_create)(kind="test.steps", tenancy=physics, target=physics)
        html = await receive_until(page, f'id="job-row-{job.pk}"')
        assert '<tbody id="job-rows" hx-swap-oob="afterbegin">' in html
        await sync_to_async(job_log)(job=job, message="more")
        html = await receive_until(page, f'<tr id="job-row-{job.pk}" hx-swap-oob="true">')
        await page.disconnect()

    async_to_sync(scenario)()


def test_a_client_of_another_tenancy_receives_nothing(physics, biology, physicist, biologist):
    theirs = session_cookie(biologist)

    async def scenario():
        # Their own tenancy's channel, open to new jobs: nothing of Physics arrives.
        own = socket(theirs, f"/ws/tenancies/{biology.pk}/?jobs=&new=1")
        assert (await own.connect())[0]
        job = await sync_to_async(job_create)(kind="test.steps", tenancy=physics, target=physics)
        await sync_to_async(job_log)(job=job, message="secret physics")
        assert await own.receive_nothing(timeout=1.5)
        await own.disconnect()

        # Physics' channel itself is refused, whatever the query asks for.
        for path in (f"/ws/tenancies/{physics.pk}/?jobs=&new=1", f"/ws/tenancies/{physics.pk}/?job={job.pk}"):
            connected, _ = await socket(theirs, path).connect()
            assert not connected

    async_to_sync(scenario)()


def test_a_member_removed_while_connected_receives_nothing_more(physics, physicist):
    cookie = session_cookie(physicist)

    async def scenario():
        page = socket(cookie, f"/ws/tenancies/{physics.pk}/?jobs=&new=1")
        assert (await page.connect())[0]
        await sync_to_async(Membership.objects.filter(user=physicist, tenancy=physics).delete)()
        await sync_to_async(job_create)(kind="test.steps", tenancy=physics, target=physics)
        output = await page.receive_output(timeout=5)
        assert output == {"type": "websocket.close", "code": 4404}

    async_to_sync(scenario)()


def test_signed_out_and_foreign_origin_connections_are_refused(physics, physicist):
    cookie = session_cookie(physicist)

    async def scenario():
        connected, code = await socket(None, f"/ws/tenancies/{physics.pk}/").connect()
        assert not connected
        assert code == 4401
        connected, _ = await socket(cookie, f"/ws/tenancies/{physics.pk}/", origin=b"https://evil.example").connect()
        assert not connected

    async_to_sync(scenario)()


def test_whoever_asked_for_a_job_is_told_when_it_ends(physics, physicist, biologist):
    from apps.jobs.runner import job_run

    mine, theirs = session_cookie(physicist), session_cookie(biologist)

    async def scenario():
        me, other = socket(mine, "/ws/events/"), socket(theirs, "/ws/events/")
        assert (await me.connect())[0]
        assert (await other.connect())[0]
        job = await sync_to_async(job_create)(
            kind="test.steps", tenancy=physics, target=physics, requested_by=physicist, params={"fail_at": "Check"}
        )
        await sync_to_async(job_run)(job.pk)
        toast = await receive_until(me, "toast-body")
        assert f"Job #{job.pk} failed" in toast
        assert "Three steps on Physics: Failed during “Check”" in toast
        assert await other.receive_nothing(timeout=0.5)
        await me.disconnect()
        await other.disconnect()

    async_to_sync(scenario)()
