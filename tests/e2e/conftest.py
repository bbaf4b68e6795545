"""Browser tests: Debian's Chromium driven by Playwright against the real
`make run` stack (tests/servers.py). Without Chromium they skip with a reason;
in CI (ATRIUM_REQUIRE_BROWSER=1) a missing browser fails instead."""

import os
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


@pytest.fixture
def console_errors(page):
    """Everything the browser reports as an error (CSP violations included)."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors
