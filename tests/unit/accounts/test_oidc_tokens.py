"""The OIDC tokens Atrium keeps so jobs can act as a user on clouds with
per-user federation: encrypted at rest, with their expiry; used only while
valid; renewed with the refresh token at the real provider (see
tests/integration/test_oidc.py); refused clearly when there is none."""

import logging
import socket
import time
from datetime import timedelta

import jwt
import pytest
from django.db import connection
from django.utils import timezone

from apps.accounts.models import OidcToken
from apps.accounts.services import (
    oidc_access_token,
    oidc_bearer_token_store,
    oidc_token_store,
)
from apps.clouds import errors
from apps.clouds.registry import driver_for_tenancy
from apps.jobs.models import Job
from apps.jobs.services import tenancy_syncs_start_due
from apps.tenancies.models import Cloud
from tests.factories import CloudFactory, TenancyFactory, UserFactory

pytestmark = pytest.mark.django_db

ACCESS = "eyJ-not-a-jwt-access-token-7d1f"


@pytest.fixture
def lise():
    return UserFactory(username="lise", oidc_issuer="https://idp.example", oidc_subject="sub-lise")


@pytest.fixture
def federated_tenancy():
    cloud = CloudFactory(
        name="Federated cloud",
        driver=Cloud.Driver.OPENSTACK,
        endpoint="http://127.0.0.1:9/v3",
        options={"auth": "federated", "identity_provider": "uni-idp", "protocol": "openid"},
        credentials={},
    )
    return TenancyFactory(name="Federated", cloud=cloud, project_id="p-1")


def _jwt(exp: float) -> str:
    return jwt.encode({"sub": "sub-lise", "exp": int(exp)}, "some-key-of-the-provider-32-bytes!", algorithm="HS256")


def test_tokens_are_kept_encrypted_with_their_expiry(lise):
    oidc_token_store(user=lise, access_token=ACCESS, expires_in=300, refresh_token="refresh-secret-9a")
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token, refresh_token FROM accounts_oidctoken")
        raw_access, raw_refresh = cursor.fetchone()
    assert ACCESS not in raw_access
    assert "refresh-secret-9a" not in raw_refresh
    token = OidcToken.objects.get(user=lise)
    assert (token.access_token, token.refresh_token, token.source) == (ACCESS, "refresh-secret-9a", "sign-in")
    assert abs((token.expires_at - timezone.now()).total_seconds() - 300) < 5
    assert ACCESS not in str(token)
    # A later sign-in without a refresh token keeps the one there is.
    oidc_token_store(user=lise, access_token=ACCESS + "-2", expires_in=300)
    assert OidcToken.objects.get(user=lise).refresh_token == "refresh-secret-9a"


def test_the_expiry_comes_from_the_response_else_the_jwt_else_a_short_default(lise, settings):
    exp = time.time() + 1234
    token = oidc_token_store(user=lise, access_token=_jwt(exp), expires_in=None)
    assert token is not None
    assert abs(token.expires_at.timestamp() - exp) < 2
    settings.ATRIUM_OIDC_BEARER_CACHE_SECONDS = 45
    token = oidc_token_store(user=lise, access_token=ACCESS, expires_in=None)
    assert token is not None
    assert abs((token.expires_at - timezone.now()).total_seconds() - 45) < 5


def test_local_users_keep_no_token():
    local = UserFactory(username="operator")
    assert oidc_token_store(user=local, access_token=ACCESS, expires_in=300) is None
    assert not OidcToken.objects.exists()


def test_a_token_is_handed_out_only_while_it_is_valid(lise):
    assert oidc_access_token(user=lise) is None  # never signed in with OIDC
    oidc_token_store(user=lise, access_token=ACCESS, expires_in=600)
    assert oidc_access_token(user=lise) == ACCESS
    OidcToken.objects.filter(user=lise).update(expires_at=timezone.now() + timedelta(seconds=30))
    assert oidc_access_token(user=lise) is None  # too close to its end, and no refresh token
    OidcToken.objects.filter(user=lise).update(expires_at=timezone.now() + timedelta(hours=1))
    lise.is_active = False
    lise.save()
    assert oidc_access_token(user=lise) is None


def test_bearer_tokens_replace_the_kept_one_only_when_they_last_longer(lise):
    oidc_token_store(user=lise, access_token=_jwt(time.time() + 3600), expires_in=None, refresh_token="r-1")
    shorter = _jwt(time.time() + 600)
    oidc_bearer_token_store(user=lise, access_token=shorter)
    assert OidcToken.objects.get(user=lise).access_token != shorter
    longer = _jwt(time.time() + 7200)
    oidc_bearer_token_store(user=lise, access_token=longer)
    token = OidcToken.objects.get(user=lise)
    assert (token.access_token, token.source, token.refresh_token) == (longer, "bearer", "r-1")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_federated_cloud_needs_a_user_with_a_usable_token(lise, federated_tenancy):
    expected = "Sign in again so Atrium can act for you on Federated cloud"
    with pytest.raises(errors.Authentication, match=expected):
        driver_for_tenancy(federated_tenancy)  # e.g. the periodic sync: no one asked
    with pytest.raises(errors.Authentication, match=expected):
        driver_for_tenancy(federated_tenancy, user=lise)  # never signed in with OIDC
    oidc_token_store(user=lise, access_token=ACCESS, expires_in=600)
    driver = driver_for_tenancy(federated_tenancy, user=lise)  # nothing asked of the cloud yet
    assert driver.user == lise
    OidcToken.objects.filter(user=lise).update(expires_at=timezone.now() - timedelta(minutes=5))
    with pytest.raises(errors.Authentication, match=expected):
        driver_for_tenancy(federated_tenancy, user=lise)  # expired, nothing to renew it with


def test_renewing_at_a_provider_that_does_not_answer_is_a_communication_error(lise, federated_tenancy, settings):
    settings.OIDC_OP_TOKEN_ENDPOINT = f"http://127.0.0.1:{_closed_port()}/token"
    settings.OIDC_TIMEOUT = 2
    oidc_token_store(user=lise, access_token=ACCESS, expires_in=600, refresh_token="r-1")
    OidcToken.objects.filter(user=lise).update(expires_at=timezone.now() - timedelta(minutes=5))
    with pytest.raises(errors.Communication, match="could not be reached to renew"):
        driver_for_tenancy(federated_tenancy, user=lise)
    assert OidcToken.objects.get(user=lise).refresh_token == "r-1"  # kept for the next try


def test_clouds_without_federation_ignore_the_user(lise):
    cloud = CloudFactory(name="Plain OpenStack", driver=Cloud.Driver.OPENSTACK, endpoint="http://127.0.0.1:9/v3")
    tenancy = TenancyFactory(name="Plain", cloud=cloud, project_id="p-2")
    assert driver_for_tenancy(tenancy).user is None
    assert driver_for_tenancy(tenancy, user=lise).user == lise


def test_the_periodic_sync_skips_federated_tenancies_saying_why(federated_tenancy, physics, settings, caplog):
    settings.ATRIUM_SYNC_INTERVAL = 600
    with caplog.at_level(logging.INFO, logger="apps.jobs"):
        started = tenancy_syncs_start_due()
    assert [job.tenancy for job in started] == [physics]
    assert not Job.objects.filter(tenancy=federated_tenancy).exists()
    assert "Periodic sync of tenancy Federated skipped" in caplog.text
    assert "per-user federation" in caplog.text
