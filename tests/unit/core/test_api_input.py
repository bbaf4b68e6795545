"""What a client sends that does not fit is a clear 4xx in the one JSON error shape,
never a 500 or an HTML page: ids that are not numbers, deep or huge bodies, unknown
paths under any method, and page, page size and ordering values the API does not have."""

import json

import pytest
from django.test import Client

from apps.accounts.services import api_token_create, ssh_key_add
from apps.jobs.models import Job
from apps.jobs.services import job_create
from tests.factories import UserFactory

from .test_api_errors import assert_error


@pytest.fixture
def token_client(physicist) -> Client:
    _, key = api_token_create(user=physicist, name="script")
    return Client(HTTP_AUTHORIZATION=f"Token {key}")


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "delete"])
@pytest.mark.parametrize(
    "path",
    [
        "jobs/abc/",
        "jobs/1.5e3/",
        "jobs/-1/",
        "ssh-keys/abc/",
        "ssh-keys/null,null/",
        "tenancies/abc/",
        "tenancies/1/machines/x/",
    ],
)
def test_an_id_that_is_not_a_whole_number_is_a_json_404(token_client: Client, path: str, method: str):
    assert_error(getattr(token_client, method)(f"/api/v1/{path}"), 404, "not_found")


@pytest.mark.django_db
def test_cancelling_a_job_by_a_word_is_a_json_404(token_client: Client):
    assert_error(token_client.post("/api/v1/jobs/abc/cancel/"), 404, "not_found")


@pytest.mark.django_db
def test_a_huge_id_is_a_404(token_client: Client):
    assert_error(token_client.get("/api/v1/jobs/99999999999999999999999/"), 404, "not_found")


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["post", "delete", "put", "patch"])
def test_writes_to_an_unknown_path_are_a_json_404_not_the_csrf_page(physicist, method: str):
    client = Client(enforce_csrf_checks=True)  # as a browser would: the session cookie, no CSRF token
    client.force_login(physicist)
    error = assert_error(getattr(client, method)("/api/v1/no-such-thing/"), 404, "not_found")
    assert "/api/v1/no-such-thing/" in error["message"]
    assert_error(Client(enforce_csrf_checks=True).post("/api/v1/nothing/here/"), 404, "not_found")


@pytest.mark.django_db
def test_json_nested_a_thousand_deep_is_a_400(token_client: Client):
    body = "[" * 1000 + "]" * 1000  # 2 KB
    error = assert_error(
        token_client.post("/api/v1/ssh-keys/", body, content_type="application/json"), 400, "parse_error"
    )
    assert "nested deeper than 32 levels" in error["message"]
    deep_object = '{"a":' * 40 + "1" + "}" * 40  # deep enough to refuse, shallow enough to parse
    assert_error(token_client.post("/api/v1/tokens/", deep_object, content_type="application/json"), 400, "parse_error")


@pytest.mark.django_db
def test_a_10_mb_body_is_a_json_413(token_client: Client, physicist):
    body = json.dumps({"name": "big", "public_key": "a" * 10_000_000})
    error = assert_error(
        token_client.post("/api/v1/ssh-keys/", body, content_type="application/json"), 413, "too_large"
    )
    assert error["message"] == "The request is too large."
    assert not physicist.ssh_keys.exists()


@pytest.mark.django_db
def test_a_10_mb_form_on_a_page_is_a_413_page(physicist_client: Client):
    response = physicist_client.post(
        "/accounts/tokens/", "name=" + "a" * 10_000_000, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 413
    assert "The request is too large." in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["abc", "0", "201", "-5", "null", "\uff11"])
def test_a_page_size_the_api_does_not_have_is_a_400_naming_the_range(token_client: Client, value: str):
    error = assert_error(token_client.get("/api/v1/tenancies/", {"page_size": value}), 400, "invalid")
    assert error["fields"] == {"page_size": ["A whole number from 1 to 200."]}


@pytest.mark.django_db
def test_page_size_is_honoured_within_the_range(token_client: Client, physicist):
    for number in range(3):
        ssh_key_add(user=physicist, name=f"key {number}", public_key=_public_key())
    body = token_client.get("/api/v1/ssh-keys/", {"page_size": "2"}).json()
    assert (body["count"], len(body["results"])) == (3, 2)
    assert "page_size=2" in body["next"]


@pytest.mark.django_db
def test_a_page_that_is_not_a_number_is_a_400_and_one_past_the_end_a_404(token_client: Client):
    error = assert_error(token_client.get("/api/v1/tenancies/", {"page": "null"}), 400, "invalid")
    assert error["fields"] == {"page": ["A whole number from 1."]}
    assert_error(token_client.get("/api/v1/tenancies/", {"page": "0"}), 400, "invalid")
    assert_error(token_client.get("/api/v1/tenancies/", {"page": "7"}), 404, "not_found")


@pytest.mark.django_db
def test_an_unknown_ordering_is_a_400_naming_the_allowed_ones(token_client: Client, physics):
    jobs = f"/api/v1/tenancies/{physics.pk}/jobs/"
    error = assert_error(token_client.get(jobs, {"ordering": "password"}), 400, "invalid")
    assert error["fields"] == {"ordering": ["One of created_at, -created_at."]}
    error = assert_error(token_client.get("/api/v1/tenancies/", {"ordering": "name"}), 400, "invalid")
    assert error["fields"] == {"ordering": ["This list has one order: leave ordering out."]}


@pytest.mark.django_db
def test_an_allowed_ordering_orders(token_client: Client, physics, physicist):
    first = job_create(kind="tenancy.sync", tenancy=physics, target=physics, requested_by=physicist)
    Job.objects.filter(pk=first.pk).update(state=Job.State.SUCCEEDED)
    second = job_create(kind="tenancy.sync", tenancy=physics, target=physics, requested_by=None, on_busy="wait")
    jobs = f"/api/v1/tenancies/{physics.pk}/jobs/"
    oldest_first = [job["id"] for job in token_client.get(jobs, {"ordering": "created_at"}).json()["results"]]
    newest_first = [job["id"] for job in token_client.get(jobs, {"ordering": "-created_at"}).json()["results"]]
    assert oldest_first == [first.pk, second.pk]
    assert newest_first == [second.pk, first.pk]


def _public_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


@pytest.mark.django_db
def test_another_users_ssh_key_by_number_is_still_a_404(token_client: Client):
    key = ssh_key_add(user=UserFactory(), name="theirs", public_key=_public_key())
    assert_error(token_client.get(f"/api/v1/ssh-keys/{key.pk}/"), 404, "not_found")
    assert_error(token_client.delete(f"/api/v1/ssh-keys/{key.pk}/"), 404, "not_found")


@pytest.mark.django_db
def test_numbers_python_would_choke_on_are_answered(token_client: Client, physics, physicist):
    job = job_create(kind="tenancy.sync", tenancy=physics, target=physics, requested_by=physicist)
    for value in ("\u00b2", "-1", "1e3"):  # not whole numbers (int() refuses the first one)
        for path, field in (
            ("/api/v1/tenancies/", "page"),
            ("/api/v1/tenancies/", "page_size"),
            (f"/api/v1/jobs/{job.pk}/", "log_after"),
        ):
            error = assert_error(token_client.get(path, {field: value}), 400, "invalid")
            assert list(error["fields"]) == [field]
    huge = "9" * 5000  # more digits than int() converts: a page past the end, a line after the last
    assert_error(token_client.get("/api/v1/tenancies/", {"page": huge}), 404, "not_found")
    assert_error(token_client.get("/api/v1/tenancies/", {"page_size": huge}), 400, "invalid")
    assert token_client.get(f"/api/v1/jobs/{job.pk}/", {"log_after": huge}).json()["log"] == []
    assert token_client.get("/api/v1/tenancies/", {"page": "0" * 5000 + "1"}).status_code == 200
    assert_error(token_client.get(f"/api/v1/jobs/{'9' * 5000}/"), 404, "not_found")
