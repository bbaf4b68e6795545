"""API credentials: any bytes in Authorization are a clear 401, never a 500;
bad tokens are limited per address (429 with Retry-After, in the API's error shape)."""

import secrets

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client, override_settings

from apps.accounts.services import api_token_create

ME = "/api/v1/me/"


def a_random_token() -> str:
    return f"atrium_{secrets.token_hex(32)}"


# What a client can put in the header. Servers hand header values to Django
# decoded as latin-1, so each byte arrives as one character (AsyncClient sends
# them as those bytes, as a real client would).
GARBAGE = [
    "Token \xff\xfe\xfd",  # not UTF-8
    "Token atrium_\xe9\xe8",  # latin-1 letters in a token
    "Token \x00\x01",
    "Bearer \xff\xfe\xfd",
    "Bearer \x80abc",
    "\x85",  # a "space" to str.split(), not to bytes.split()
    "\xa0Token x",
    "\xff\xfe\xfd\xfc",
    "Token",
    "Token a b",
    "Bearer",
    "Bearer a b",
    "token \xff",
]


@pytest.mark.django_db
@override_settings(ATRIUM_OIDC_ENABLED=True, OIDC_OP_USER_ENDPOINT="http://127.0.0.1:9/userinfo")
@pytest.mark.parametrize("header", GARBAGE)
def test_any_bytes_in_authorization_are_a_clear_4xx_never_a_500(header):
    """OIDC is on, so Bearer headers reach that check too (its provider is a closed port)."""
    response = async_to_sync(AsyncClient().get)(ME, headers={"Authorization": header})
    assert response.status_code in (401, 403), response.content
    error = response.json()["error"]
    assert error["status"] == response.status_code
    assert error["message"]
    # The same on a page outside the API: nothing reads it there.
    assert async_to_sync(AsyncClient().get)("/accounts/login/", headers={"Authorization": header}).status_code == 200


@pytest.mark.django_db
@override_settings(ATRIUM_OIDC_ENABLED=True, OIDC_OP_USER_ENDPOINT="http://127.0.0.1:9/userinfo")
def test_a_bearer_token_that_is_not_a_token_is_refused_without_asking_the_provider():
    response = Client().get(ME, HTTP_AUTHORIZATION="Bearer a\x7fb")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Invalid Bearer header: that is not a token."


@pytest.mark.django_db
def test_a_token_still_works_through_the_new_header_reading(physicist):
    _, key = api_token_create(user=physicist, name="laptop")
    assert Client().get(ME, HTTP_AUTHORIZATION=f"Token {key}").json()["username"] == "physicist"
    assert Client().get(ME, HTTP_AUTHORIZATION=f"token   {key} ").status_code == 200  # scheme is case-insensitive


@pytest.mark.django_db
@override_settings(ATRIUM_API_BAD_TOKEN_RATE="5/min")
def test_bad_tokens_from_one_address_get_429_with_retry_after(physicist):
    _, key = api_token_create(user=physicist, name="laptop")
    guesser = Client(REMOTE_ADDR="203.0.113.5")
    codes = [guesser.get(ME, HTTP_AUTHORIZATION=f"Token {a_random_token()}").status_code for _ in range(50)]
    assert codes[:5] == [401] * 5
    assert set(codes[5:]) == {429}
    response = guesser.get(ME, HTTP_AUTHORIZATION=f"Token {key}")  # even the right one, from there, for now
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response.json() == {
        "error": {
            "status": 429,
            "code": "throttled",
            "message": response.json()["error"]["message"],
        }
    }
    assert response.json()["error"]["message"].startswith("Too many requests with bad API credentials")
    # X-Forwarded-For is the client's to write: it does not move the count elsewhere.
    spoofed = guesser.get(ME, HTTP_AUTHORIZATION=f"Token {key}", HTTP_X_FORWARDED_FOR="192.0.2.1")
    assert spoofed.status_code == 429
    # Another address, and the browser session, are not concerned.
    assert Client(REMOTE_ADDR="203.0.113.6").get(ME, HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    guesser.force_login(physicist)
    assert guesser.get(ME).status_code == 200


@pytest.mark.django_db
@override_settings(ATRIUM_API_BAD_TOKEN_RATE="5/min")
def test_malformed_headers_count_as_bad_tokens_and_good_ones_do_not(physicist):
    _, key = api_token_create(user=physicist, name="laptop")
    client = Client()
    for _ in range(20):
        assert client.get(ME, HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    for _ in range(5):
        assert client.get(ME, HTTP_AUTHORIZATION="Token \xff\xfe").status_code == 401
    assert client.get(ME, HTTP_AUTHORIZATION=f"Token {key}").status_code == 429


@pytest.mark.django_db
@override_settings(
    ATRIUM_API_BAD_TOKEN_RATE="3/min", ATRIUM_OIDC_ENABLED=True, OIDC_OP_USER_ENDPOINT="http://127.0.0.1:9/userinfo"
)
def test_bearer_tokens_the_provider_cannot_check_count_too():
    client = Client()
    for _ in range(3):
        response = client.get(ME, HTTP_AUTHORIZATION=f"Bearer {secrets.token_urlsafe(24)}")
        assert response.status_code == 401
        assert response.json()["error"]["message"] == "The identity provider could not check this token."
    assert client.get(ME, HTTP_AUTHORIZATION=f"Bearer {secrets.token_urlsafe(24)}").status_code == 429


@pytest.mark.django_db
@override_settings(
    ATRIUM_API_BAD_TOKEN_RATE="1/min",
    # Nothing listens on port 9 of loopback: the cache (Redis) is down.
    CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"}},
)
def test_with_its_cache_down_the_limit_lapses_but_tokens_still_work(physicist):
    _, key = api_token_create(user=physicist, name="laptop")
    client = Client()
    for _ in range(3):
        assert client.get(ME, HTTP_AUTHORIZATION=f"Token {a_random_token()}").status_code == 401
    assert client.get(ME, HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
