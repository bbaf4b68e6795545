"""The per-tenancy websocket through the real ASGI application (Origin check,
session auth) and the configured channel layer (Redis in the PostgreSQL run,
in-memory with its database re-read in the SQLite run)."""

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import Client
from django.urls import reverse

from apps.jobs.services import job_create, job_log
from apps.tenancies.models import Membership
from tests.sockets import live_path, opened, receive_until, refusal, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_job_page_receives_its_summary_and_new_log_lines(physics, physicist):
    job = job_create(kind="test.steps", tenancy=physics, target=physics)
    last = job.log_lines.order_by("-id").first()
    assert last is not None

    cookie = session_cookie(physicist)

    async def scenario():
        async with opened(f"/ws/tenancies/{physics.pk}/?job={job.pk}&log_after={last.pk}", cookie) as page:
            await sync_to_async(job_log)(job=job, message="Image uploaded")
            html = await receive_until(page, "Image uploaded")
        assert '<section id="job-summary" aria-label="Job status" hx-swap-oob="true">' in html
        assert '<ol id="job-log" hx-swap-oob="beforeend">' in html
        assert "Queued by" not in html  # rendered with the page already: not sent twice

    async_to_sync(scenario)()


def test_a_list_gets_rows_for_new_jobs_and_updates_its_own(physics, physicist):
    cookie = session_cookie(physicist)

    async def scenario():
        async with opened(f"/ws/tenancies/{physics.pk}/?jobs=&new=1", cookie) as page:
            job = await sync_to_async(job_create)(kind="test.steps", tenancy=physics, target=physics)
            html = await receive_until(page, f'id="job-row-{job.pk}"')
            assert '<tbody id="job-rows" hx-swap-oob="afterbegin">' in html
            await sync_to_async(job_log)(job=job, message="more")
            await receive_until(page, f'<tr id="job-row-{job.pk}" hx-swap-oob="true">')

    async_to_sync(scenario)()


def test_a_client_of_another_tenancy_receives_nothing(physics, biology, physicist, biologist):
    theirs = session_cookie(biologist)

    async def scenario():
        # Their own tenancy's channel, open to new jobs: nothing of Physics arrives.
        async with opened(f"/ws/tenancies/{biology.pk}/?jobs=&new=1", theirs) as own:
            job = await sync_to_async(job_create)(kind="test.steps", tenancy=physics, target=physics)
            await sync_to_async(job_log)(job=job, message="secret physics")
            assert await own.receive_nothing(timeout=1.5)

        # Physics' channel itself is refused, whatever the query asks for.
        for path in (f"/ws/tenancies/{physics.pk}/?jobs=&new=1", f"/ws/tenancies/{physics.pk}/?job={job.pk}"):
            assert await refusal(path, theirs) == 4404

    async_to_sync(scenario)()


def test_a_member_removed_while_connected_receives_nothing_more(physics, physicist):
    cookie = session_cookie(physicist)

    async def scenario():
        async with opened(f"/ws/tenancies/{physics.pk}/?jobs=&new=1", cookie) as page:
            await sync_to_async(Membership.objects.filter(user=physicist, tenancy=physics).delete)()
            await sync_to_async(job_create)(kind="test.steps", tenancy=physics, target=physics)
            output = await page.receive_output(timeout=5)
        assert output == {"type": "websocket.close", "code": 4404}

    async_to_sync(scenario)()


def test_signed_out_and_foreign_origin_connections_are_refused(physics, physicist):
    cookie = session_cookie(physicist)

    async def scenario():
        assert await refusal(f"/ws/tenancies/{physics.pk}/", None) == 4401
        await refusal(f"/ws/tenancies/{physics.pk}/", cookie, origin=b"https://evil.example")

    async_to_sync(scenario)()


def test_whoever_asked_for_a_job_is_told_when_it_ends(physics, physicist, biologist):
    from apps.jobs.runner import job_run

    mine, theirs = session_cookie(physicist), session_cookie(biologist)

    async def scenario():
        async with opened("/ws/events/", mine) as me, opened("/ws/events/", theirs) as other:
            job = await sync_to_async(job_create)(
                kind="test.steps", tenancy=physics, target=physics, requested_by=physicist, params={"fail_at": "Check"}
            )
            await sync_to_async(job_run)(job.pk)
            toast = await receive_until(me, "toast-body")
            assert f"Job #{job.pk} failed" in toast
            assert "Three steps on Physics: Failed during “Check”" in toast
            assert await other.receive_nothing(timeout=0.5)

    async_to_sync(scenario)()


def test_a_job_that_ends_before_the_list_connects_still_shows_its_end(physics, physicist):
    from apps.jobs.runner import job_run

    job = job_create(kind="test.steps", tenancy=physics, target=physics, requested_by=physicist)
    browser = Client()
    browser.force_login(physicist)
    page_html = browser.get(reverse("jobs:list", args=[physics.pk])).content.decode()
    assert f'id="job-row-{job.pk}"' in page_html
    job_run(job.pk)  # done before the page's socket joins the group
    cookie = session_cookie(physicist)

    async def scenario():
        async with opened(live_path(page_html), cookie) as page:
            return await receive_until(page, "Succeeded")

    html = async_to_sync(scenario)()
    assert f'<tr id="job-row-{job.pk}" hx-swap-oob="true">' in html


def test_numbers_a_client_made_up_in_the_socket_url_are_skipped_not_fatal(physics, physicist):
    """'²' passes str.isdigit() but not int(), and int() refuses 4,300+ digits: the page's
    socket still opens and still hears its job."""
    cookie = session_cookie(physicist)
    huge = "9" * 5000

    async def scenario():
        path = f"/ws/tenancies/{physics.pk}/?jobs=²,{huge}&new=1&since=²&log_after={huge}"
        async with opened(path, cookie) as page:
            job = await sync_to_async(job_create)(kind="test.steps", tenancy=physics, target=physics)
            await receive_until(page, f'id="job-row-{job.pk}"')

    async_to_sync(scenario)()
