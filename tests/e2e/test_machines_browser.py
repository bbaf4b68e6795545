"""A scientist creates a machine in Chromium against the real stack (uvicorn +
worker, the demo's local cloud that builds in a few seconds): the row appears
as building and turns active without a reload; they open a port in its
firewall and close another, stop it and delete it."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_browser import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_create_watch_active_stop_and_delete_a_machine(page: Page, portal, screenshot, console_errors):
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
    sign_in(page, portal.url, "physicist")
    page.locator(".atrium-tenancy-card", has_text="Physics").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Machines").click()
    expect(page.get_by_role("heading", name="Machines in Physics")).to_be_visible()
    page.get_by_role("link", name="New machine").click()

    # The form: the rule under the name, sizes with their specs, the projected quota.
    expect(page.get_by_text("1 to 255 characters, unique in the tenancy")).to_be_visible()
    page.get_by_label("Name").fill("browser-vm")
    page.get_by_label("Image").select_option(label="Debian 12")
    page.get_by_label("Size").select_option(label="medium: 2 CPU, 4 GB RAM, 40 GB disk")
    expect(page.locator('[data-quota="cpus"]')).to_contain_text("→ 2 of 32")
    page.get_by_label("Give it an external IP").check()
    expect(page.locator('[data-quota="external_ips"]')).to_contain_text("→ 1 of 4")
    screenshot("machine-create")
    page.get_by_role("button", name="Create machine").click()

    # Back on the list: the row is there at once, building, and turns active by itself.
    expect(page.get_by_text("Creating browser-vm")).to_be_visible()
    row = page.locator("#machine-rows tr", has_text="browser-vm")
    expect(row.locator(".atrium-machine-status")).to_contain_text(re.compile("Building|Build"))
    loads = len(navigations)
    screenshot("machine-building")
    expect(row.locator(".atrium-machine-status")).to_have_attribute("data-status", "ACTIVE", timeout=40_000)
    expect(row).to_contain_text(re.compile(r"203\.0\.113\.\d+"), timeout=20_000)  # its external IP
    expect(row.locator(".atrium-machine-status")).to_contain_text("Active", timeout=20_000)
    assert len(navigations) == loads, navigations  # no reload
    screenshot("machine-active")

    # Its page: details, console log; stop it and watch it stop.
    row.get_by_role("link", name="browser-vm").click()
    expect(page.get_by_role("heading", name="browser-vm")).to_be_visible()
    expect(page.locator("#machine-summary")).to_contain_text("Debian 12")
    expect(page.locator("[data-console-log]")).to_contain_text("browser-vm", timeout=15_000)

    # Its firewall: SSH and ping to start with; a mistyped port is explained in the panel,
    # then Jupyter is opened to one network and ping closed, each turning done by itself.
    firewall = page.locator("#machine-firewall")
    expect(firewall.locator('[data-firewall-rule="TCP port 22 (SSH) from anywhere"]')).to_be_visible()
    expect(firewall.locator('[data-firewall-rule="ICMP (ping) from anywhere"]')).to_be_visible()
    loads = len(navigations)
    firewall.get_by_label("Protocol").select_option(label="TCP")
    firewall.get_by_label("Port or range").fill("jupyter")
    before = len(console_errors)
    firewall.get_by_role("button", name="Open").click()
    expect(firewall.get_by_text("A port (8888) or a range (8000-8100).")).to_be_visible()
    # The refused form answered 400, which the browser (and htmx) report; nothing else may.
    refused = console_errors[before:]
    assert refused, "the 400 is reported"
    assert all("400" in e or "responseError" in e for e in refused), refused
    del console_errors[before:]
    firewall.get_by_label("Port or range").fill("8888")
    firewall.get_by_label("From").fill("192.0.2.0/24")
    firewall.get_by_role("button", name="Open").click()
    jupyter = firewall.locator('[data-firewall-rule="TCP port 8888 (Jupyter) from 192.0.2.0/24"]')
    expect(jupyter).to_be_visible()
    expect(jupyter).not_to_contain_text("adding", timeout=30_000)
    page.once("dialog", lambda dialog: dialog.accept())
    firewall.locator('[data-firewall-rule="ICMP (ping) from anywhere"]').get_by_role("link", name="Remove").click()
    expect(firewall.locator('[data-firewall-rule="ICMP (ping) from anywhere"]')).to_have_count(0, timeout=30_000)
    assert len(navigations) == loads, navigations  # all in the panel, no reload
    firewall.scroll_into_view_if_needed()
    screenshot("machine-firewall")

    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_text(re.compile(r"Stop browser-vm: job #\d+ started"))).to_be_visible()
    summary_status = page.locator("#machine-summary .atrium-machine-status")
    expect(summary_status).to_have_attribute("data-status", "STOPPED", timeout=30_000)
    expect(summary_status).not_to_contain_text("Stopping", timeout=30_000)
    expect(page.get_by_role("button", name="Start")).to_be_visible()
    screenshot("machine-stopped")

    # Delete, confirming by the machine's name; the row goes from the list.
    page.get_by_role("link", name="Delete").click()
    expect(page.get_by_text("Delete browser-vm?")).to_be_visible()
    page.get_by_role("button", name="Delete browser-vm").click()
    expect(page.get_by_role("heading", name="Machines in Physics")).to_be_visible()
    expect(page.locator("#machine-rows tr", has_text="browser-vm")).to_have_count(0, timeout=30_000)
    screenshot("machine-deleted")
    assert console_errors == [], console_errors
