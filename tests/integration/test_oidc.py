"""Sign-in through a real OpenID Connect provider (tests/oidc, on loopback):
code exchange, id_token checked against its JWKS, groups → memberships,
re-sign-in with changed groups, RP-initiated logout, bearer tokens, and each
kind of bad sign-in refused with a message and nothing created."""

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.messages import get_messages
from django.test import Client

from apps.accounts.models import User
from apps.tenancies.models import Membership
from tests.factories import GroupMappingFactory, MembershipFactory, TenancyFactory
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider, start_provider

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

CALLBACK = "http://testserver/oidc/callback/"
AFTER_LOGOUT = "http://testserver/accounts/login/"


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    op = start_provider(tmp_path_factory.mktemp("oidc"), redirect_uris=[CALLBACK], post_logout_uris=(AFTER_LOGOUT,))
    yield op
    op.stop()


@pytest.fixture
def oidc(provider: OidcProvider, settings, physics, biology):
    for name, value in provider.django_settings().items():
        setattr(settings, name, value)
    settings.ATRIUM_OIDC_ENABLED = True
    GroupMappingFactory(group="physics-group", tenancy=physics, role="member")
    GroupMappingFactory(group="biology-leads", tenancy=biology, role="manager")
    provider.set_person(
        "lise", email="lise@uni.example", given_name="Lise", family_name="Meitner", groups=["physics-group"]
    )
    return provider


def sign_in(client: Client, provider: OidcProvider, login: str = "lise", **kwargs):
    start = client.get("/oidc/authenticate/")
    assert start.status_code == 302
    callback = provider.sign_in(start["Location"], login, **kwargs)
    parts = urlsplit(callback)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == CALLBACK
    return client.get(f"{parts.path}?{parts.query}")


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_first_sign_in_creates_the_user_keyed_by_sub_with_tenancies_from_groups(oidc, physics):
    client = Client()
    response = sign_in(client, oidc)
    assert response.status_code == 302
    assert response["Location"] == "/"
    user = User.objects.get(oidc_subject="lise")
    assert user.oidc_issuer == oidc.issuer
    assert (user.email, user.first_name, user.last_name) == ("lise@uni.example", "Lise", "Meitner")
    assert not user.has_usable_password()
    membership = Membership.objects.get(user=user)
    assert (membership.tenancy, membership.role, membership.source) == (physics, "member", "groups")
    home = client.get("/").content.decode()
    assert "Welcome, Lise" in home
    assert "Physics" in home
    assert "Biology" not in home


def test_signing_in_again_follows_changed_groups_and_details(oidc, physics, biology):
    chemistry = TenancyFactory(name="Chemistry")
    sign_in(Client(), oidc)
    user = User.objects.get(oidc_subject="lise")
    MembershipFactory(user=user, tenancy=chemistry, source="manual")  # added by hand: kept
    oidc.set_person(
        "lise", email="l.meitner@new.example", given_name="Lise", family_name="Meitner", groups=["biology-leads"]
    )
    sign_in(Client(), oidc)
    assert User.objects.filter(oidc_subject="lise").count() == 1
    user.refresh_from_db()
    assert user.email == "l.meitner@new.example"
    roles = {m.tenancy.name: (m.role, m.source) for m in Membership.objects.filter(user=user)}
    assert roles == {"Biology": ("manager", "groups"), "Chemistry": ("member", "manual")}


def test_a_person_in_no_known_group_is_refused_and_nothing_is_created(oidc):
    oidc.set_person("eve", email="eve@uni.example", groups=["choir", "chess-club"])
    response = sign_in(Client(), oidc, "eve")
    assert response["Location"] == "/accounts/login/"
    (message,) = messages_of(response)
    assert "not in any group that has a tenancy" in message
    assert "chess-club, choir" in message
    assert not User.objects.filter(oidc_subject="eve").exists()


def test_losing_every_group_ends_access(oidc):
    sign_in(Client(), oidc)
    oidc.set_person("lise", email="lise@uni.example", groups=[])
    response = sign_in(Client(), oidc)
    assert "not in any group" in messages_of(response)[0]
    assert not Membership.objects.filter(user__oidc_subject="lise").exists()


def test_operators_come_from_a_configured_group(oidc, settings):
    settings.ATRIUM_OIDC_OPERATOR_GROUPS = ["atrium-ops"]
    oidc.set_person("grace", email="grace@uni.example", groups=["atrium-ops"])
    client = Client()
    sign_in(client, oidc, "grace")
    grace = User.objects.get(oidc_subject="grace")
    assert grace.is_staff
    assert client.get("/admin/").status_code == 200
    oidc.set_person("grace", email="grace@uni.example", groups=["physics-group"])
    sign_in(Client(), oidc, "grace")
    grace.refresh_from_db()
    assert not grace.is_staff


def test_a_replayed_callback_is_refused(oidc):
    client = Client()
    start = client.get("/oidc/authenticate/")
    callback = oidc.sign_in(start["Location"], "lise")
    path = f"{urlsplit(callback).path}?{urlsplit(callback).query}"
    assert client.get(path)["Location"] == "/"
    client.post("/accounts/logout/")
    again = client.get(path)
    assert again["Location"] == "/accounts/login/"
    assert "already been used or has expired" in messages_of(again)[0]
    stranger = Client().get(path)  # a browser that never started this sign-in
    assert stranger["Location"] == "/accounts/login/"
    assert "_auth_user_id" not in client.session


def test_a_token_from_another_issuer_is_refused(oidc, settings):
    settings.OIDC_OP_ISSUER = "https://login.other-university.example"
    response = sign_in(Client(), oidc)
    assert response["Location"] == "/accounts/login/"
    assert "could not be verified" in messages_of(response)[0]
    assert not User.objects.filter(oidc_subject="lise").exists()


def test_an_id_token_signed_with_another_key_is_refused(oidc, settings, tmp_path):
    # A second, real provider with its own key issues the token; Atrium checks it
    # against the first provider's published keys, as it would a forged token.
    impostor = start_provider(tmp_path, redirect_uris=[CALLBACK])
    try:
        impostor.set_person("lise", email="lise@uni.example", groups=["physics-group"])
        meta = impostor.endpoints
        settings.OIDC_OP_AUTHORIZATION_ENDPOINT = meta["authorization_endpoint"]
        settings.OIDC_OP_TOKEN_ENDPOINT = meta["token_endpoint"]
        settings.OIDC_OP_USER_ENDPOINT = meta["userinfo_endpoint"]
        settings.OIDC_OP_ISSUER = meta["issuer"]
        response = sign_in(Client(), impostor)
    finally:
        impostor.stop()
    assert "could not be verified" in messages_of(response)[0]
    assert not User.objects.exists()


def test_a_tampered_id_token_does_not_verify(oidc):
    from django.core.exceptions import SuspiciousOperation

    from apps.accounts.oidc import AtriumOIDCBackend

    id_token, _ = tokens_for(oidc, "lise", nonce="n-123")
    backend = AtriumOIDCBackend()
    assert backend.verify_token(id_token, nonce="n-123")["sub"] == "lise"
    header, payload, signature = id_token.split(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    with pytest.raises(SuspiciousOperation):
        backend.verify_token(f"{header}.{flipped}.{signature}", nonce="n-123")
    with pytest.raises(SuspiciousOperation):
        backend.verify_token(id_token, nonce="someone-elses-nonce")


def test_a_refusal_at_the_provider_is_explained(oidc):
    response = sign_in(Client(), oidc, consent=False)
    assert response["Location"] == "/accounts/login/"
    assert "did not sign you in" in messages_of(response)[0]
    assert not User.objects.exists()


def test_the_provider_being_down_is_explained(oidc, settings, tmp_path):
    flaky = start_provider(tmp_path, redirect_uris=[CALLBACK])
    flaky.set_person("lise", groups=["physics-group"])
    for name, value in flaky.django_settings().items():
        setattr(settings, name, value)
    client = Client()
    callback = flaky.sign_in(client.get("/oidc/authenticate/")["Location"], "lise")
    flaky.stop()  # gone between the login form and the code exchange
    response = client.get(f"{urlsplit(callback).path}?{urlsplit(callback).query}")
    assert response["Location"] == "/accounts/login/"
    assert "not answering" in messages_of(response)[0]
    login_page = client.get("/accounts/login/").content.decode()
    assert "not answering" in login_page
    assert "Sign in with" in login_page


def test_signing_out_ends_the_session_at_the_provider_too(oidc):
    client, browser = Client(), requests.Session()
    sign_in(client, oidc, browser=browser)
    response = client.post("/accounts/logout/")
    target = urlsplit(response["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == oidc.endpoints["end_session_endpoint"]
    query = parse_qs(target.query)
    assert query["post_logout_redirect_uri"] == [AFTER_LOGOUT]
    assert query["id_token_hint"][0].count(".") == 2
    assert client.get("/")["Location"] == "/accounts/login/"  # signed out here
    # At the provider: confirm the sign-out; it sends the browser back to us.
    back = oidc.sign_in(response["Location"], "lise", browser=browser)
    assert back.startswith(AFTER_LOGOUT)
    # The provider's session is over: the next sign-in asks for the login again.
    start = Client().get("/oidc/authenticate/")["Location"]
    page = browser.get(start, timeout=10)
    assert 'name="login"' in page.text


def tokens_for(provider: OidcProvider, login: str, *, nonce: str = "n") -> tuple[str, str]:
    """(id_token, access_token) by the code flow, as a relying party does it."""
    meta = provider.endpoints
    authorize = requests.Request(
        "GET",
        meta["authorization_endpoint"],
        params={
            "client_id": CLIENT_ID,
            "response_type": "code",
            "scope": "openid email profile groups",
            "redirect_uri": CALLBACK,
            "state": "s",
            "nonce": nonce,
        },
    ).prepare()
    code = parse_qs(urlsplit(provider.sign_in(str(authorize.url), login)).query)["code"][0]
    tokens = requests.post(
        meta["token_endpoint"],
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=10,
    ).json()
    return tokens["id_token"], tokens["access_token"]


def test_the_api_accepts_the_providers_access_tokens(oidc):
    _, access_token = tokens_for(oidc, "lise")
    client = Client()
    me = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {access_token}")
    assert me.status_code == 200, me.content
    assert me.json()["username"] == "lise"
    tenancies = client.get("/api/v1/tenancies/", HTTP_AUTHORIZATION=f"Bearer {access_token}").json()
    assert [t["name"] for t in tenancies["results"]] == ["Physics"]
    bad = client.get("/api/v1/me/", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "authentication_failed"


def test_bearer_tokens_are_checked_at_the_provider_once_then_trusted_briefly(oidc, settings, tmp_path):
    brief = start_provider(tmp_path, redirect_uris=[CALLBACK])
    brief.set_person("lise", email="lise@uni.example", groups=["physics-group"])
    for name, value in brief.django_settings().items():
        setattr(settings, name, value)
    _, access_token = tokens_for(brief, "lise")
    client = Client()
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {access_token}").status_code == 200
    brief.stop()  # the provider is gone; the token was checked a moment ago
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {access_token}").status_code == 200
    settings.ATRIUM_OIDC_BEARER_CACHE_SECONDS = 0
    from django.core.cache import cache

    cache.clear()
    response = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {access_token}")
    assert response.status_code == 401
    assert "could not check this token" in response.json()["error"]["message"]


def test_oidc_discover_prints_the_settings(oidc, capsys):
    from django.core.management import call_command

    call_command("oidc_discover", oidc.issuer)
    lines = dict(line.split("=", 1) for line in capsys.readouterr().out.split())
    assert lines == {k: v for k, v in oidc.django_settings().items() if k.startswith("OIDC_OP_")}


def test_sign_in_keeps_the_tokens_for_federated_clouds_and_renews_them(oidc):
    from datetime import timedelta

    from django.utils import timezone

    from apps.accounts.models import OidcToken
    from apps.accounts.services import oidc_access_token

    sign_in(Client(), oidc)
    user = User.objects.get(oidc_subject="lise")
    kept = OidcToken.objects.get(user=user)
    assert kept.source == "sign-in"
    assert kept.refresh_token
    assert kept.expires_at > timezone.now() + timedelta(minutes=5)
    first = kept.access_token
    assert oidc_access_token(user=user) == first
    # The provider's userinfo accepts what we kept: it is the user's real access token.
    userinfo = requests.get(
        oidc.endpoints["userinfo_endpoint"], headers={"Authorization": f"Bearer {first}"}, timeout=10
    )
    assert userinfo.json()["sub"] == "lise"

    OidcToken.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))
    renewed = oidc_access_token(user=user)
    assert renewed
    assert renewed != first
    kept.refresh_from_db()
    assert (kept.access_token, kept.source) == (renewed, "refresh")
    assert kept.expires_at > timezone.now() + timedelta(minutes=5)
    userinfo = requests.get(
        oidc.endpoints["userinfo_endpoint"], headers={"Authorization": f"Bearer {renewed}"}, timeout=10
    )
    assert userinfo.json()["sub"] == "lise"

    # A refresh token the provider no longer honours: the user must sign in again.
    OidcToken.objects.filter(user=user).update(
        expires_at=timezone.now() - timedelta(seconds=1), refresh_token="revoked-or-forged"
    )
    assert oidc_access_token(user=user) is None
    assert OidcToken.objects.get(user=user).refresh_token is None


def test_bearer_api_requests_keep_the_token_for_federated_clouds(oidc):
    from apps.accounts.models import OidcToken

    _, access_token = tokens_for(oidc, "lise")
    assert Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {access_token}").status_code == 200
    kept = OidcToken.objects.get(user__oidc_subject="lise")
    assert (kept.access_token, kept.source) == (access_token, "bearer")
