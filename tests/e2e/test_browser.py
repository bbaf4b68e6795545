import os
import re

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from playwright.sync_api import Page, expect

from apps.core.events import user_group
from tests.servers import run_in_thread

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def sign_in(page: Page, url: str, username: str) -> None:
    page.goto(url)
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(username)
    page.get_by_role("button", name="Sign in").click()
    # The next page's deferred scripts (Bootstrap's dropdowns) run before its load event; a click
    # on the user menu before then opens nothing (seen once on a loaded CI machine).
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))
    page.wait_for_load_state("load")


def test_a_scientist_signs_in_by_clicking_and_finds_their_tenancy(page: Page, portal, screenshot, console_errors):
    page.goto(portal.url)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_text("password = user name")).to_be_visible()
    screenshot("login")

    page.get_by_label("Username").fill("physicist")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Please enter a correct username and password")
    expect(page.get_by_label("Username")).to_have_value("physicist")

    with page.expect_websocket(lambda ws: ws.url.endswith("/ws/events/")) as socket_info:
        page.get_by_label("Password").fill("physicist")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Welcome, Lise")).to_be_visible()
    socket = socket_info.value
    expect(page.get_by_role("link", name=re.compile("Physics"))).to_be_visible()
    expect(page.get_by_text("Biology")).to_have_count(0)
    screenshot("home")

    page.get_by_role("button", name="Choose a tenancy").click()
    menu = page.locator(".dropdown-menu.show")
    expect(menu.get_by_role("link", name=re.compile("Physics"))).to_be_visible()
    menu.get_by_role("link", name=re.compile("Physics")).click()
    expect(page.get_by_role("heading", name="Physics", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Physics")).to_be_visible()  # the switcher names where you are
    screenshot("tenancy")

    if os.environ.get("REDIS_URL"):
        # The live channel, end to end: this test process publishes through the same
        # Redis the portal uses, and the page shows the fragment without a reload.
        assert not socket.is_closed()
        me = page.request.get(f"{portal.url}api/v1/me/").json()
        send = async_to_sync(get_channel_layer().group_send)
        run_in_thread(
            lambda: send(
                user_group(me["id"]),
                {
                    "type": "html.fragment",
                    "html": '<div id="toasts" hx-swap-oob="beforeend"><div class="toast" role="status">'
                    '<div class="toast-body">Machine <b>analysis-01</b> is ready.</div></div></div>',
                },
            )
        )
        toast = page.get_by_role("status")
        expect(toast).to_contain_text("analysis-01 is ready")
        expect(toast).to_be_visible()
        expect(toast).to_have_class(re.compile(r"^(?!.*showing).*\bshow\b"))  # shown and faded in
        screenshot("toast", full_page=False)

    page.get_by_role("button", name="Lise Meitner").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert console_errors == [], console_errors


def test_links_work_with_javascript_off(browser, portal):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    sign_in(page, portal.url, "biologist")
    expect(page.get_by_role("heading", name="Welcome, Rosalind")).to_be_visible()
    # The dropdown toggles are plain links without JavaScript.
    page.get_by_role("button", name="Choose a tenancy").click()
    expect(page).to_have_url(portal.url)
    page.get_by_role("button", name="Rosalind Franklin").click()
    expect(page).to_have_url(re.compile(r"/accounts/me/$"))
    page.get_by_role("link", name="Biology").click()
    expect(page.get_by_role("heading", name="Biology", exact=True)).to_be_visible()
    page.goto(f"{portal.url}accounts/me/")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    context.close()


def test_api_docs_render_under_the_content_security_policy(page: Page, portal, screenshot, console_errors):
    page.goto(f"{portal.url}api/v1/docs/")
    expect(page.get_by_role("heading", name=re.compile("Atrium API"))).to_be_visible()
    expect(page.get_by_text("/api/v1/tenancies/", exact=True).first).to_be_visible()
    screenshot("api-docs")
    assert console_errors == [], console_errors


def test_an_operator_reaches_the_admin_and_error_pages_look_like_the_portal(
    page: Page, portal, screenshot, console_errors
):
    sign_in(page, portal.url, "operator")
    expect(page.get_by_role("heading", name="You are not in any tenancy yet")).to_be_visible()
    page.get_by_role("link", name="Admin", exact=True).click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    expect(page.locator("#tenancies-tenancy")).to_be_visible()
    response = page.goto(f"{portal.url}tenancies/424242/")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", name="There is nothing here.")).to_be_visible()
    expect(page.get_by_role("link", name="Back to Atrium")).to_be_visible()
    screenshot("not-found")
    # 404s are logged by the browser as failed loads; nothing else may be.
    assert [e for e in console_errors if "404" not in e] == [], console_errors


def test_a_scientist_adds_an_ssh_key_and_makes_an_api_token(page: Page, portal, screenshot, console_errors):
    from tests.unit.accounts.test_ssh_keys import ED25519

    sign_in(page, portal.url, "physicist")
    page.get_by_role("button", name="Lise Meitner").click()
    # The menu's own link (the home page may also link to SSH keys).
    page.get_by_role("list", name="Lise Meitner").get_by_role("link", name="SSH keys").click()
    page.get_by_label("Public key").fill("ssh-rsa AAAA-not-a-key me@laptop")
    page.get_by_role("button", name="Add key").click()
    expect(page.get_by_text("This is not a valid OpenSSH public key")).to_be_visible()
    page.get_by_label("Public key").fill(ED25519)
    page.get_by_role("button", name="Add key").click()
    expect(page.get_by_role("alert")).to_contain_text("SSH key “lise@laptop” added (SHA256:")
    expect(page.get_by_text("ssh-ed25519 · 256 bits")).to_be_visible()
    screenshot("ssh-keys")

    page.get_by_role("link", name="API tokens").click()
    page.get_by_label("Name").fill("notebook")
    page.get_by_label("Expires").select_option(label="90 days")
    page.get_by_role("button", name="Create token").click()
    key = page.get_by_label("New API token").input_value()
    assert key.startswith("atrium_")
    screenshot("tokens")
    # The token works for the API, from outside the browser session.
    me = page.request.get(f"{portal.url}api/v1/me/", headers={"Authorization": f"Token {key}", "Cookie": ""})
    assert me.json()["username"] == "physicist"
    page.reload()
    expect(page.get_by_label("New API token")).to_have_count(0)  # shown once
    # Revoking asks first, naming the token.
    page.get_by_role("link", name="Revoke notebook").click()
    expect(page.get_by_role("heading", name=re.compile(r"Revoke the API token “notebook”"))).to_be_visible()
    screenshot("token-revoke-confirm")
    page.get_by_role("button", name="Revoke notebook").click()
    expect(page.get_by_role("alert")).to_contain_text("revoked")
    assert console_errors == [], console_errors
