"""The job pages with plain requests (no JavaScript): list, filters, a job's
stages and log, cancel, "Refresh now", the operators' page; outsiders get 404."""

import pytest
from django.test import Client

from apps.jobs.models import Job
from apps.jobs.runner import job_run
from apps.jobs.services import job_create
from tests.factories import UserFactory
from tests.sockets import live_path

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_jobs_list_shows_the_tenancys_jobs_and_filters_them(physicist_client, physics, biology):
    done = job_create(kind="test.steps", tenancy=physics, target=physics)
    job_run(done.pk)
    failed = job_create(kind="test.steps", tenancy=physics, target=physics, params={"fail_at": "Check"})
    job_run(failed.pk)
    hidden = job_create(kind="test.steps", tenancy=biology, target=biology)

    page = physicist_client.get(f"/tenancies/{physics.pk}/jobs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'id="job-row-{done.pk}"' in html
    assert f'id="job-row-{failed.pk}"' in html
    assert f'id="job-row-{hidden.pk}"' not in html
    assert live_path(html).startswith(f"/ws/tenancies/{physics.pk}/?jobs={failed.pk},{done.pk}&new=1&since=")

    only_failed = physicist_client.get(f"/tenancies/{physics.pk}/jobs/?state=failed").content.decode()
    assert f'id="job-row-{failed.pk}"' in only_failed
    assert f'id="job-row-{done.pk}"' not in only_failed
    assert "&amp;new=1" not in only_failed  # a filtered list does not take new rows live

    bad = physicist_client.get(f"/tenancies/{physics.pk}/jobs/?state=exploded&kind=nope")
    assert bad.status_code == 200
    assert "Select a valid choice" in bad.content.decode()


def test_a_job_page_shows_stages_progress_log_and_error(physicist_client, physics):
    job = job_create(kind="test.steps", tenancy=physics, target=physics, params={"fail_at": "Build"})
    job_run(job.pk)
    page = physicist_client.get(f"/tenancies/{physics.pk}/jobs/{job.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Failed during “Build”: Build went wrong: the image is unusable" in html
    assert '<progress class="atrium-progress atrium-progress-lg flex-grow-1" value="33" max="100"' in html
    assert "atrium-stage-failed" in html
    assert "Prepare: working" in html
    last_line = job.log_lines.order_by("-id").first()
    assert last_line is not None
    assert f"?job={job.pk}&amp;log_after={last_line.pk}" in html
    assert "Cancel job" not in html  # it has ended
    assert "style=" not in html  # the CSP forbids inline styles


def test_cancelling_and_refreshing_from_the_page(physicist_client, physics):
    response = physicist_client.post(f"/tenancies/{physics.pk}/sync/")
    sync = Job.objects.get(kind="tenancy.sync")
    assert response.status_code == 302
    assert response["Location"] == f"/tenancies/{physics.pk}/jobs/{sync.pk}/"
    page = physicist_client.get(response["Location"]).content.decode()
    assert "Refreshing Physics: job #" in page
    assert "Cancel job" in page

    again = physicist_client.post(f"/tenancies/{physics.pk}/sync/")
    assert again["Location"] == f"/tenancies/{physics.pk}/jobs/{sync.pk}/"  # follow the sync already running
    assert (
        f"Physics is being refreshed already: job #{sync.pk}."
        in physicist_client.get(again["Location"]).content.decode()
    )
    assert Job.objects.filter(kind="tenancy.sync").count() == 1

    cancelled = physicist_client.post(f"/tenancies/{physics.pk}/jobs/{sync.pk}/cancel/", follow=True)
    assert f"Job #{sync.pk} is cancelled." in cancelled.content.decode()
    sync.refresh_from_db()
    assert sync.state == Job.State.CANCELLED
    twice = physicist_client.post(f"/tenancies/{physics.pk}/jobs/{sync.pk}/cancel/", follow=True)
    assert "has already cancelled; there is nothing to cancel" in twice.content.decode()


def test_another_tenancys_jobs_are_not_found(physicist_client, physics, biology):
    theirs = job_create(kind="test.steps", tenancy=biology, target=biology)
    for url in (
        f"/tenancies/{biology.pk}/jobs/",
        f"/tenancies/{biology.pk}/jobs/{theirs.pk}/",
        f"/tenancies/{physics.pk}/jobs/{theirs.pk}/",  # through a tenancy one is in
    ):
        assert physicist_client.get(url).status_code == 404, url
    assert physicist_client.post(f"/tenancies/{biology.pk}/jobs/{theirs.pk}/cancel/").status_code == 404
    assert physicist_client.post(f"/tenancies/{biology.pk}/sync/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.state == Job.State.QUEUED
    assert not Job.objects.filter(tenancy=biology, kind="tenancy.sync").exists()


def test_the_tenancy_page_lists_recent_jobs(physicist_client, physics):
    job = job_create(kind="test.steps", tenancy=physics, target=physics)
    html = physicist_client.get(f"/tenancies/{physics.pk}/").content.decode()
    assert f'id="job-row-{job.pk}"' in html
    assert "Refresh now" in html


def test_operators_see_every_tenancys_running_and_failed_jobs(physics, biology, physicist_client):
    failed = job_create(kind="test.steps", tenancy=biology, target=biology, params={"fail_at": "Prepare"})
    job_run(failed.pk)
    queued = job_create(kind="test.steps", tenancy=physics, target=physics)
    operator = Client()
    operator.force_login(UserFactory(username="op", is_staff=True))
    html = operator.get("/operators/jobs/").content.decode()
    assert f"#{failed.pk}" in html
    assert f"#{queued.pk}" in html
    assert "Failed during “Prepare”" in html
    assert physicist_client.get("/operators/jobs/").status_code == 302  # to the admin login: staff only
    admin = operator
    operator_user = UserFactory(username="root", is_staff=True, is_superuser=True)
    admin.force_login(operator_user)
    assert admin.get(f"/admin/jobs/job/{failed.pk}/change/").status_code == 200
    assert admin.get("/admin/jobs/job/?state=failed").status_code == 200


@pytest.mark.parametrize(
    "path", ["/tenancies/{t}/jobs/", "/tenancies/{t}/", "/api/v1/tenancies/{t}/jobs/", "/operators/jobs/"]
)
def test_job_lists_make_as_many_queries_for_many_jobs_as_for_few(physics, physicist, path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import MembershipFactory, TenancyFactory

    client = Client()
    staff = UserFactory(username="staffer", is_staff=True)
    client.force_login(staff if path.startswith("/operators/") else physicist)
    MembershipFactory(user=staff, tenancy=physics)
    url = path.format(t=physics.pk)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    def more_jobs(count: int) -> None:
        for _ in range(count):
            tenancy = TenancyFactory()
            job = job_create(kind="test.steps", tenancy=physics, target=tenancy, requested_by=physicist)
            job_run(job.pk)
            job_create(kind="test.steps", tenancy=physics, target=tenancy, requested_by=physicist)

    more_jobs(2)
    few = queries()
    more_jobs(6)
    assert queries() == few
