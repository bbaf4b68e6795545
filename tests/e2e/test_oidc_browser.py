"""A scientist signs in by clicking through a real OpenID Connect provider,
sees their tenancy, and signs out of both Atrium and the provider."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.oidc_provider import start_provider
from tests.servers import free_port, manage, running_portal

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def federated_portal(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("oidc-e2e")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    provider = start_provider(
        tmp, redirect_uris=[f"{base}/oidc/callback/"], post_logout_uris=(f"{base}/accounts/login/",)
    )
    provider.set_person(
        "lise", email="lise@uni.example", given_name="Lise", family_name="Meitner", groups=["physics-group"]
    )
    try:
        with running_portal(
            tmp, port=port, ATRIUM_OIDC_PROVIDER_NAME="Example University", **provider.django_settings()
        ) as portal:
            manage("map_group", "physics-group", "Physics", env=portal.env)
            yield portal
    finally:
        provider.stop()


def test_sign_in_and_out_through_the_institutions_provider(page: Page, federated_portal, screenshot, console_errors):
    page.goto(federated_portal.url)
    page.get_by_role("button", name="Sign in with Example University").click()
    # The provider's own pages (oidc-provider's development login and consent forms).
    page.locator('input[name="login"]').fill("lise")
    page.locator('input[name="password"]').fill("anything")
    page.get_by_role("button", name=re.compile("Sign-in", re.I)).click()
    page.get_by_role("button", name=re.compile("Continue", re.I)).click()

    expect(page.get_by_role("heading", name="Welcome, Lise")).to_be_visible()
    expect(page.locator(".atrium-tenancy-card", has_text="Physics")).to_be_visible()
    expect(page.get_by_text("Biology")).to_have_count(0)
    screenshot("oidc-home")
    page.goto(f"{federated_portal.url}accounts/me/")
    expect(page.get_by_text("Example University")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    # The provider asks to confirm ending its session, then sends the browser back.
    page.get_by_role("button", name=re.compile("sign me out", re.I)).click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert console_errors == [], console_errors
