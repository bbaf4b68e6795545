"""One password form, switched by ATRIUM_LOCAL_LOGIN, with guessing limited
(django-axes per account and per address)."""

import time
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from axes.models import AccessAttempt
from django.contrib.auth import authenticate
from django.test import AsyncClient, Client, RequestFactory, override_settings

from tests.factories import UserFactory

LOGIN = "/accounts/login/"
RIGHT = {"username": "physicist", "password": "pw-for-tests"}
WRONG = {"username": "physicist", "password": "guess"}


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.django_db
def test_after_50_wrong_passwords_the_right_one_is_refused_with_429(physicist, settings):
    settings.AXES_FAILURE_LIMIT = 10
    guesser = Client()
    started = time.monotonic()
    codes = [guesser.post(LOGIN, WRONG).status_code for _ in range(50)]
    assert codes[:9] == [200] * 9  # the form again, "Please enter a correct username and password"
    assert set(codes[10:]) == {429}
    response = guesser.post(LOGIN, RIGHT)
    assert response.status_code == 429
    assert not signed_in(guesser)
    # ATRIUM_LOGIN_LOCKOUT_SECONDS (900 by default) from the 10th failure: guesses meanwhile do not extend it.
    assert 900 - (time.monotonic() - started) - 1 <= int(response["Retry-After"]) <= 900
    page = response.content.decode()
    assert "Too many failed sign-in attempts for this account or from your address. Try again in 15 minutes." in page
    assert 'name="password"' in page  # still the sign-in page, in the portal's style
    assert 'value="physicist"' in page


@pytest.mark.django_db
def test_the_account_is_locked_from_every_address(physicist, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for n in range(3):
        Client(REMOTE_ADDR=f"192.0.2.{n}").post(LOGIN, WRONG)
    elsewhere = Client(REMOTE_ADDR="198.51.100.7")
    assert elsewhere.post(LOGIN, RIGHT).status_code == 429
    assert not signed_in(elsewhere)
    # Another account from that address is not concerned.
    UserFactory(username="chemist")
    assert elsewhere.post(LOGIN, {"username": "chemist", "password": "pw-for-tests"}).status_code == 302


@pytest.mark.django_db
def test_an_address_trying_many_accounts_is_locked(physicist, settings):
    settings.AXES_FAILURE_LIMIT = 3
    sprayer = Client(REMOTE_ADDR="203.0.113.9")
    for name in ("root", "admin", "operator"):
        sprayer.post(LOGIN, {"username": name, "password": "password1"})
    assert sprayer.post(LOGIN, RIGHT).status_code == 429
    # X-Forwarded-For is the client's to write: it does not move the count elsewhere.
    assert sprayer.post(LOGIN, RIGHT, HTTP_X_FORWARDED_FOR="192.0.2.200").status_code == 429
    assert Client(REMOTE_ADDR="203.0.113.10").post(LOGIN, RIGHT).status_code == 302


@pytest.mark.django_db
def test_the_lockout_ends_after_its_time(physicist, settings):
    settings.AXES_FAILURE_LIMIT = 2
    client = Client()
    for _ in range(2):
        client.post(LOGIN, WRONG)
    assert client.post(LOGIN, RIGHT).status_code == 429
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(seconds=901))
    assert client.post(LOGIN, RIGHT).status_code == 302
    assert signed_in(client)


@pytest.mark.django_db
def test_the_lockout_page_is_the_same_under_asgi(physicist, settings):
    """uvicorn runs the middleware asynchronously: axes then calls the lockout page differently."""
    settings.AXES_FAILURE_LIMIT = 2
    client = AsyncClient()
    for _ in range(2):
        async_to_sync(client.post)(LOGIN, WRONG)
    response = async_to_sync(client.post)(LOGIN, RIGHT)
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 900
    assert "Too many failed sign-in attempts" in response.content.decode()


@pytest.mark.django_db
def test_sign_ins_without_a_password_are_not_counted(physicist, settings):
    """OIDC sign-ins that fail (the provider's to limit) do not lock anyone out."""
    settings.AXES_FAILURE_LIMIT = 2
    request = RequestFactory().get("/oidc/callback/")  # a callback without a code: the OIDC backend says no
    for _ in range(5):
        assert authenticate(request, nonce="n", code_verifier="v") is None
    assert not AccessAttempt.objects.exists()
    assert Client().post(LOGIN, RIGHT).status_code == 302


@pytest.mark.django_db
def test_force_login_and_sign_ins_elsewhere_are_unaffected(physicist, settings):
    settings.AXES_FAILURE_LIMIT = 1
    Client().post(LOGIN, WRONG)
    assert Client().post(LOGIN, RIGHT).status_code == 429
    tests_client = Client()
    tests_client.force_login(physicist)  # what most tests do: no password, no axes
    assert tests_client.get("/accounts/me/").status_code == 200


# --- The admin has no password form of its own -----------------------------------


@pytest.mark.django_db
def test_the_admins_login_sends_operators_to_atriums_sign_in(client: Client):
    response = client.get("/admin/")
    assert response["Location"] == "/admin/login/?next=/admin/"
    response = client.get(response["Location"])
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2F"


@pytest.mark.django_db
def test_the_admins_login_takes_no_password(client: Client):
    operator = UserFactory(username="operator", is_staff=True, is_superuser=True)
    response = client.post("/admin/login/", {"username": operator.username, "password": "pw-for-tests"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not signed_in(client)
    assert client.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_50_guesses_on_the_admins_login_then_the_right_one_still_gets_nothing(settings):
    settings.AXES_FAILURE_LIMIT = 10
    UserFactory(username="operator", is_staff=True, is_superuser=True)
    guesser = Client()
    for n in range(50):
        guesser.post("/admin/login/", {"username": "operator", "password": f"guess{n}"})
    response = guesser.post("/admin/login/", {"username": "operator", "password": "pw-for-tests"})
    assert response.status_code == 302
    assert not signed_in(guesser)
    # Guessing goes through the one password form, where the limit holds.
    for n in range(10):
        guesser.post(LOGIN, {"username": "operator", "password": f"guess{n}"})
    assert guesser.post(LOGIN, {"username": "operator", "password": "pw-for-tests"}).status_code == 429


@pytest.mark.django_db
@override_settings(ATRIUM_LOCAL_LOGIN=False, ATRIUM_LOCAL_LOGIN_STAFF_ONLY=True, ATRIUM_EMBEDDED=False)
def test_in_production_no_password_is_accepted_anywhere(client: Client):
    """Production's defaults: operators sign in through OIDC, the admin included."""
    UserFactory(username="operator", is_staff=True, is_superuser=True)
    credentials = {"username": "operator", "password": "pw-for-tests"}
    for path in ("/admin/login/", "/admin/login/?next=/admin/", LOGIN):
        client.post(path, credentials)
        assert not signed_in(client), path
    page = client.get("/admin/", follow=True)
    assert page.redirect_chain[-1][0] == "/accounts/login/?next=%2Fadmin%2F"
    assert 'name="password"' not in page.content.decode()
    # Nor does a session-less API call take a password.
    assert Client().get("/api/v1/me/", HTTP_AUTHORIZATION="Basic b3BlcmF0b3I6cHctZm9yLXRlc3Rz").status_code in (
        401,
        403,
    )


@pytest.mark.django_db
@override_settings(ATRIUM_LOCAL_LOGIN=True, ATRIUM_LOCAL_LOGIN_STAFF_ONLY=True, ATRIUM_EMBEDDED=False)
def test_break_glass_operators_sign_in_on_atriums_page_and_reach_the_admin(client: Client):
    UserFactory(username="operator", is_staff=True, is_superuser=True)
    form = client.get("/admin/", follow=True)
    assert 'name="password"' in form.content.decode()
    response = client.post(
        form.redirect_chain[-1][0], {"username": "operator", "password": "pw-for-tests", "next": "/admin/"}
    )
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_a_member_sent_to_the_admins_login_is_told_it_is_for_operators(physicist_client: Client):
    response = physicist_client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0] == "/"
    assert "The admin is for operators" in response.content.decode()


@pytest.mark.django_db
def test_the_admins_login_never_sends_anyone_off_site(client: Client):
    response = client.get("/admin/login/?next=https://evil.example/")
    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2F"
