from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from apps.accounts.models import ApiToken
from tests.factories import UserFactory


def create(client: Client, **data):
    return client.post("/api/v1/tokens/", data, content_type="application/json")


@pytest.mark.django_db
def test_a_token_is_shown_once_works_and_is_stored_hashed(physicist_client: Client):
    response = create(physicist_client, name="laptop")
    assert response.status_code == 201
    key = response.json()["token"]
    assert key.startswith("atrium_")
    token = ApiToken.objects.get(name="laptop")
    assert key not in (token.digest, token.token_key)  # only a hash and a prefix are kept
    listed = physicist_client.get("/api/v1/tokens/").json()["results"]
    assert [t["name"] for t in listed] == ["laptop"]
    assert "token" not in listed[0]

    api = Client()
    me = api.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}")
    assert me.status_code == 200
    assert me.json()["username"] == "physicist"
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.django_db
def test_a_revoked_token_stops_working(physicist_client: Client):
    key = create(physicist_client, name="ci").json()["token"]
    token_key = ApiToken.objects.get(name="ci").token_key
    assert physicist_client.delete(f"/api/v1/tokens/{token_key}/").status_code == 204
    response = Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


@pytest.mark.django_db
def test_an_expired_token_stops_working(physicist_client: Client):
    key = create(physicist_client, name="short", expires_in_days=1).json()["token"]
    ApiToken.objects.filter(name="short").update(expiry=timezone.now() - timedelta(seconds=1))
    assert Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "ok", "expires_in_days": 0}, "expires_in_days"),
    ],
)
def test_bad_input_is_400_with_field_errors(physicist_client: Client, data, field):
    response = create(physicist_client, **data)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_duplicate_names_are_refused(physicist_client: Client):
    create(physicist_client, name="laptop")
    response = create(physicist_client, name="laptop")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["name"] == ["You already have a token with that name."]


@pytest.mark.django_db
def test_another_users_token_is_404(physicist_client: Client, biologist):
    other = Client()
    other.force_login(biologist)
    create(other, name="theirs")
    token_key = ApiToken.objects.get(name="theirs").token_key
    assert physicist_client.get(f"/api/v1/tokens/{token_key}/").status_code == 404
    assert physicist_client.delete(f"/api/v1/tokens/{token_key}/").status_code == 404
    assert physicist_client.post(f"/accounts/tokens/{token_key}/revoke/").status_code == 404
    assert ApiToken.objects.filter(name="theirs").exists()


@pytest.mark.django_db
def test_tokens_page_creates_shows_once_and_revokes(physicist_client: Client):
    page = physicist_client.post("/accounts/tokens/", {"name": "notebook", "expires_in_days": "30"}).content.decode()
    token = ApiToken.objects.get(name="notebook")
    assert "copy it now" in page
    assert f'value="{token.token_key}' in page
    assert token.expiry is not None
    again = physicist_client.get("/accounts/tokens/").content.decode()
    assert "copy it now" not in again
    assert "notebook" in again
    physicist_client.post(f"/accounts/tokens/{token.token_key}/revoke/")
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_tokens_page_re_renders_bad_input_with_messages(physicist_client: Client):
    page = physicist_client.post("/accounts/tokens/", {"name": "", "expires_in_days": "7"}).content.decode()
    assert "This field is required." in page
    assert "Select a valid choice" in page
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_create_token_command_prints_a_working_token(capsys):
    UserFactory(username="robot")
    call_command("create_token", "robot", "--name", "cron")
    key = capsys.readouterr().out.strip()
    assert Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}").json()["username"] == "robot"
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("create_token", "nobody")


@pytest.mark.django_db
def test_session_authenticated_writes_need_the_csrf_token(physicist):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(physicist)
    response = create(browser, name="no-csrf")
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]
    assert not ApiToken.objects.exists()
    browser.get("/accounts/tokens/")  # sets the CSRF cookie, as a page load does
    ok = browser.post(
        "/api/v1/tokens/",
        {"name": "with-csrf"},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value,
    )
    assert ok.status_code == 201


def token_client(key: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {key}")


@pytest.mark.django_db
def test_a_token_cannot_revoke_its_owners_other_tokens(physicist_client: Client):
    laptop = create(physicist_client, name="laptop").json()["token"]
    ci = create(physicist_client, name="ci").json()["token"]
    leaked = token_client(laptop)
    for token in ApiToken.objects.all():  # what a leaked token would try: revoke everything
        response = leaked.delete(f"/api/v1/tokens/{token.token_key}/")
        if token.name == "ci":
            assert response.status_code == 403
            assert response.json()["error"]["code"] == "permission_denied"
            assert "only revoke itself" in response.json()["error"]["message"]
    assert token_client(ci).get("/api/v1/me/").status_code == 200  # the owner's other token still works
    assert set(ApiToken.objects.values_list("name", flat=True)) == {"ci"}  # the leaked one could only retire itself


@pytest.mark.django_db
def test_a_token_can_revoke_itself(physicist_client: Client):
    key = create(physicist_client, name="script").json()["token"]
    me = token_client(key)
    token_key = ApiToken.objects.get(name="script").token_key
    assert me.delete(f"/api/v1/tokens/{token_key}/").status_code == 204
    assert me.get("/api/v1/me/").status_code == 401


@pytest.mark.django_db
def test_a_token_cannot_mint_another_token(physicist_client: Client):
    key = create(physicist_client, name="laptop").json()["token"]
    response = create(token_client(key), name="successor")
    assert response.status_code == 403
    assert "Sign in to Atrium" in response.json()["error"]["message"]
    assert list(ApiToken.objects.values_list("name", flat=True)) == ["laptop"]


@pytest.mark.django_db
def test_signed_in_the_owner_revokes_any_of_their_tokens(physicist_client: Client):
    for name in ("a", "b"):
        create(physicist_client, name=name)
    for token in ApiToken.objects.all():
        assert physicist_client.delete(f"/api/v1/tokens/{token.token_key}/").status_code == 204
    assert not ApiToken.objects.exists()
