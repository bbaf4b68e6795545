"""A scientist starts a job and watches it run, in Chromium, against the real
stack (uvicorn + worker): the job page's state, stages, progress and log change
without a reload; the jobs list's row follows; pages work without JavaScript."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_browser import sign_in
from tests.servers import running_portal

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def jobs_portal(tmp_path_factory):
    with running_portal(
        tmp_path_factory.mktemp("e2e-jobs"), ATRIUM_JOB_MODULES="tests.e2e.slow_sync", ATRIUM_SYNC_INTERVAL="0"
    ) as running:
        yield running


def test_a_job_page_updates_live_while_the_job_runs(page: Page, jobs_portal, screenshot, console_errors):
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
    sign_in(page, jobs_portal.url, "physicist")
    page.locator(".atrium-tenancy-card", has_text="Physics").click()
    expect(page.get_by_role("heading", name="Physics", exact=True)).to_be_visible()

    with page.expect_websocket(lambda ws: "/ws/tenancies/" in ws.url):
        page.get_by_role("button", name="Refresh now").click()
        expect(page.get_by_role("heading", name=re.compile(r"Job #\d+: Sync tenancy"))).to_be_visible()
    job_url = page.url
    job_id = re.search(r"/jobs/(\d+)/", job_url).group(1)  # type: ignore[union-attr]
    loads = len(navigations)

    log = page.locator("#job-log")
    expect(log).to_contain_text("Counted 1 of 5 in Physics", timeout=20_000)
    expect(page.locator(".atrium-job-state")).to_contain_text("Running")
    expect(page.locator(".atrium-stage-running")).to_contain_text("Count the stars")
    screenshot("job-running")
    expect(log).to_contain_text("Counted 5 of 5 in Physics", timeout=20_000)
    expect(page.locator(".atrium-job-state")).to_contain_text("Succeeded", timeout=20_000)
    expect(page.locator("#job-summary progress")).to_have_attribute("value", "100")
    expect(page.locator(".atrium-stage-succeeded", has_text="Count the stars")).to_have_count(1)
    expect(page.get_by_role("button", name="Cancel job")).to_have_count(0)
    # Each log line once, though the page rendered some and the socket sent the rest.
    expect(log.get_by_text("Counted 3 of 5 in Physics")).to_have_count(1)
    screenshot("job-succeeded")
    assert page.url == job_url
    assert len(navigations) == loads, navigations  # all of it without a reload

    # The jobs list shows the finished job, and takes a new one live.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Jobs").click()
    expect(page.get_by_role("heading", name="Jobs in Physics")).to_be_visible()
    rows = page.locator("#job-rows tr[id^=job-row-]")
    expect(page.locator(f"#job-row-{job_id}")).to_contain_text("Succeeded")
    shown = rows.count()  # other tests of this module may have run jobs too
    loads = len(navigations)
    # A job started elsewhere (here: through the API) appears on top, then finishes, in place.
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    tenancy_id = re.search(r"/tenancies/(\d+)/", page.url).group(1)  # type: ignore[union-attr]
    started = page.request.post(
        f"{jobs_portal.url}api/v1/tenancies/{tenancy_id}/sync/", headers={"X-CSRFToken": csrf, "Referer": page.url}
    )
    assert started.status == 202, started.text()
    expect(rows).to_have_count(shown + 1)
    expect(rows.first).to_contain_text(f"#{started.json()['id']}")
    expect(rows.first).to_contain_text("Succeeded", timeout=20_000)
    assert len(navigations) == loads, navigations
    screenshot("jobs-list")
    assert console_errors == [], console_errors


def test_cancelling_a_running_job_from_its_page(page: Page, jobs_portal, screenshot, console_errors):
    sign_in(page, jobs_portal.url, "physicist")
    page.locator(".atrium-tenancy-card", has_text="Physics").click()
    page.get_by_role("button", name="Refresh now").click()
    expect(page.locator("#job-log")).to_contain_text("Counted 1 of 5", timeout=20_000)
    page.get_by_role("button", name="Cancel job").click()
    expect(page.locator(".atrium-job-state")).to_contain_text("Cancelled", timeout=20_000)
    expect(page.get_by_role("alert").filter(has_text="Cancelled")).to_be_visible()
    expect(page.locator(".atrium-stage-cancelled")).to_contain_text("Count the stars")
    screenshot("job-cancelled")
    assert console_errors == [], console_errors


def test_job_pages_work_without_javascript(browser, jobs_portal):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    sign_in(page, jobs_portal.url, "biologist")
    page.get_by_role("link", name=re.compile("Biology")).first.click()
    page.get_by_role("button", name="Refresh now").click()
    expect(page.get_by_role("heading", name=re.compile(r"Job #\d+: Sync tenancy"))).to_be_visible()
    for _ in range(60):  # reload until it has finished, as a person without JavaScript would
        if page.locator(".atrium-job-state", has_text="Succeeded").count():
            break
        page.wait_for_timeout(500)
        page.get_by_role("link", name="Reload").click()
    expect(page.locator(".atrium-job-state")).to_contain_text("Succeeded")
    expect(page.locator("#job-log")).to_contain_text("Counted 5 of 5 in Biology")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Jobs").click()
    page.get_by_label("State").select_option("succeeded")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"state=succeeded"))
    expect(page.locator("#job-rows tr[id^=job-row-]").first).to_contain_text("Succeeded")
    expect(page.locator("#job-rows")).not_to_contain_text("Cancelled")
    context.close()
