"""Browser tests: Debian's Chromium driven by Playwright against the real
`make run` stack (tests/servers.py). Without Chromium they skip with a reason;
in CI (ATRIUM_REQUIRE_BROWSER=1) a missing browser fails instead."""

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.servers import ROOT, running_portal

CHROMIUM = os.environ.get("ATRIUM_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "var" / "screenshots"


@pytest.fixture(scope="session")
def browser_type_launch_args():
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        message = f"no Chromium at {CHROMIUM} (apt-get install chromium, or set ATRIUM_CHROMIUM)"
        if os.environ.get("ATRIUM_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    return {
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    with running_portal(tmp_path_factory.mktemp("e2e")) as running:
        yield running


@pytest.fixture
def screenshot(page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str, *, full_page: bool = True) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


@pytest.fixture(autouse=True)
def loopback_only(context):
    """The browser never reaches past loopback (the provider's development pages
    link web fonts; those requests are aborted before any lookup)."""
    context.route(re.compile(r"^(?!https?://(127\.0\.0\.1|localhost)[:/]).*"), lambda route: route.abort())


@pytest.fixture
def console_errors(page, request):
    """What the browser reports as an error on Atrium's own pages (CSP
    violations included); other sites' pages (the identity provider) are not ours."""
    errors: list[str] = []

    def on_console(message):
        if message.type == "error" and _is_portal(page.url):
            errors.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    return errors


def _is_portal(url: str) -> bool:
    from tests.servers import PORTAL_PORTS

    return any(f":{port}/" in url for port in PORTAL_PORTS)
