import pytest
from django.test import Client, override_settings


@pytest.mark.django_db
def test_sign_in_with_a_local_account_lands_on_my_tenancies(physicist, client: Client):
    response = client.post("/accounts/login/", {"username": "physicist", "password": "pw-for-tests"}, follow=True)
    assert response.redirect_chain[-1][0] == "/"
    assert "Welcome, Lise" in response.content.decode()


@pytest.mark.django_db
def test_wrong_password_re_renders_the_form_with_a_message(physicist, client: Client):
    response = client.post("/accounts/login/", {"username": "physicist", "password": "nope"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Please enter a correct username and password" in page
    assert 'value="physicist"' in page  # what was typed is kept
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_empty_form_names_the_missing_fields(client: Client):
    page = client.post("/accounts/login/", {}).content.decode()
    assert page.count("This field is required.") == 2


@pytest.mark.django_db
def test_next_is_honoured_but_never_offsite(physicist, client: Client):
    ok = client.post("/accounts/login/?next=/accounts/me/", {"username": "physicist", "password": "pw-for-tests"})
    assert ok["Location"] == "/accounts/me/"
    client.logout()
    evil = client.post(
        "/accounts/login/?next=https://evil.example/", {"username": "physicist", "password": "pw-for-tests"}
    )
    assert evil["Location"] == "/"


@pytest.mark.django_db
def test_sign_out_is_a_post_and_ends_the_session(physicist_client: Client):
    response = physicist_client.post("/accounts/logout/")
    assert response.status_code == 302
    assert physicist_client.get("/")["Location"] == "/accounts/login/"


@pytest.mark.django_db
def test_profile_shows_my_tenancies(physicist_client: Client):
    page = physicist_client.get("/accounts/me/").content.decode()
    assert "Lise Meitner" in page
    assert "Physics" in page


@pytest.mark.django_db
def test_demo_logins_are_shown_only_in_the_embedded_mode(client: Client):
    assert "password = user name" in client.get("/accounts/login/").content.decode()
    with override_settings(ATRIUM_EMBEDDED=False):
        assert "password = user name" not in client.get("/accounts/login/").content.decode()


@pytest.mark.django_db
@override_settings(ATRIUM_LOCAL_LOGIN=False)
def test_local_login_can_be_switched_off(physicist, client: Client):
    page = client.get("/accounts/login/").content.decode()
    assert 'name="password"' not in page
    assert "No way to sign in is configured" in page
    response = client.post("/accounts/login/", {"username": "physicist", "password": "pw-for-tests"})
    assert response.status_code == 404
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
@override_settings(ATRIUM_LOCAL_LOGIN_STAFF_ONLY=True, ATRIUM_OIDC_PROVIDER_NAME="Example University")
def test_break_glass_local_login_is_for_operators_only(physicist, client: Client):
    from tests.factories import UserFactory

    refused = client.post("/accounts/login/", {"username": "physicist", "password": "pw-for-tests"})
    assert "Please sign in with Example University." in refused.content.decode()
    assert "_auth_user_id" not in client.session
    UserFactory(username="ops", is_staff=True)
    ok = client.post("/accounts/login/", {"username": "ops", "password": "pw-for-tests"})
    assert ok.status_code == 302


@pytest.mark.django_db
@override_settings(ATRIUM_OIDC_ENABLED=True, ATRIUM_OIDC_PROVIDER_NAME="Example University")
def test_the_sign_in_page_offers_the_institution_first(client: Client):
    page = client.get("/accounts/login/").content.decode()
    assert "Sign in with Example University" in page
    assert page.index("Sign in with Example University") < page.index('name="password"')
