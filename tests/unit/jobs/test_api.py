"""The jobs API: a job with stages and log, cancel, a tenancy's jobs with
filters, work-starting endpoints answering 202 + Location; outsiders get 404."""

import pytest

from apps.jobs.models import Job
from apps.jobs.runner import job_run
from apps.jobs.services import job_create

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_job_with_its_stages_and_log(physicist_client, physics):
    job = job_create(kind="test.steps", tenancy=physics, target=physics, params={"fail_at": "Check"})
    job_run(job.pk)
    body = physicist_client.get(f"/api/v1/jobs/{job.pk}/").json()
    assert body["state"] == "failed"
    assert body["error"] == "Failed during “Check”: Check went wrong: the image is unusable"
    assert body["target"] == {"type": "tenancies.tenancy", "id": str(physics.pk), "name": "Physics"}
    assert [(s["name"], s["state"]) for s in body["stages"]] == [
        ("Prepare", "succeeded"),
        ("Build", "succeeded"),
        ("Check", "failed"),
    ]
    assert body["log"][0]["message"] == "Queued by Atrium."
    assert body["progress"] == 67
    assert body["url"].endswith(f"/api/v1/jobs/{job.pk}/")

    after = body["log"][-2]["id"]
    tail = physicist_client.get(f"/api/v1/jobs/{job.pk}/?log_after={after}").json()["log"]
    assert [line["message"] for line in tail] == [body["log"][-1]["message"]]

    bad = physicist_client.get(f"/api/v1/jobs/{job.pk}/?log_after=yesterday")
    assert bad.status_code == 400
    assert "log_after" in bad.json()["error"]["fields"]


def test_a_tenancys_jobs_with_filters(physicist_client, physics):
    ok = job_create(kind="test.steps", tenancy=physics, target=physics)
    job_run(ok.pk)
    bad = job_create(kind="test.steps", tenancy=physics, target=physics, params={"fail_at": "Build"})
    job_run(bad.pk)
    sync = job_create(kind="tenancy.sync", tenancy=physics, target=physics)

    def ids(query: str = "") -> list[int]:
        response = physicist_client.get(f"/api/v1/tenancies/{physics.pk}/jobs/{query}")
        assert response.status_code == 200, response.content
        return [job["id"] for job in response.json()["results"]]

    assert ids() == [sync.pk, bad.pk, ok.pk]
    assert ids("?state=failed") == [bad.pk]
    assert ids("?kind=tenancy.sync") == [sync.pk]
    assert ids("?kind=test.steps&state=succeeded") == [ok.pk]

    invalid = physicist_client.get(f"/api/v1/tenancies/{physics.pk}/jobs/?state=exploded")
    assert invalid.status_code == 400
    assert set(invalid.json()["error"]["fields"]) == {"state"}


def test_cancel_answers_200_when_done_and_409_when_already_ended(physicist_client, physics):
    job = job_create(kind="test.steps", tenancy=physics, target=physics)
    response = physicist_client.post(f"/api/v1/jobs/{job.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["state"] == "cancelled"
    again = physicist_client.post(f"/api/v1/jobs/{job.pk}/cancel/")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"


def test_cancel_of_a_running_job_answers_202(physicist_client, physics):
    job = job_create(kind="test.steps", tenancy=physics, target=physics)
    Job.objects.filter(pk=job.pk).update(state=Job.State.RUNNING)  # as a worker would have claimed it
    response = physicist_client.post(f"/api/v1/jobs/{job.pk}/cancel/")
    assert response.status_code == 202
    assert response.json()["cancel_requested"] is True


def test_starting_work_answers_202_with_the_job_and_its_location(physicist_client, physics):
    response = physicist_client.post(f"/api/v1/tenancies/{physics.pk}/sync/")
    assert response.status_code == 202
    job = Job.objects.get()
    assert response["Location"] == f"http://testserver/api/v1/jobs/{job.pk}/"
    assert response.json()["kind"] == "tenancy.sync"
    assert response.json()["state"] == "queued"
    busy = physicist_client.post(f"/api/v1/tenancies/{physics.pk}/sync/")
    assert busy.status_code == 409
    assert busy.json()["error"]["message"].startswith("Physics is busy with job")


def test_another_tenancys_jobs_are_404(physicist_client, biology):
    theirs = job_create(kind="test.steps", tenancy=biology, target=biology)
    for method, url in [
        ("get", f"/api/v1/jobs/{theirs.pk}/"),
        ("post", f"/api/v1/jobs/{theirs.pk}/cancel/"),
        ("get", f"/api/v1/tenancies/{biology.pk}/jobs/"),
        ("post", f"/api/v1/tenancies/{biology.pk}/sync/"),
        ("get", "/api/v1/jobs/999999/"),
    ]:
        response = getattr(physicist_client, method)(url)
        assert response.status_code == 404, url
        assert response.json()["error"]["code"] == "not_found"
    assert Job.objects.get(pk=theirs.pk).state == Job.State.QUEUED


def test_signed_out_clients_are_refused(client, physics):
    job = job_create(kind="test.steps", tenancy=physics, target=physics)
    assert client.get(f"/api/v1/jobs/{job.pk}/").status_code == 401  # and says how: WWW-Authenticate
