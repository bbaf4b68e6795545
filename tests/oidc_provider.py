"""A real OpenID Connect provider (panva's oidc-provider, tests/oidc/) on a
loopback port, and a scripted person who signs in through its login and
consent forms. Needs Node.js; `npm ci` runs on first use."""

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from tests.servers import ROOT, free_port

PROVIDER_DIR = ROOT / "tests" / "oidc"
CLIENT_ID = "atrium-tests"
CLIENT_SECRET = "atrium-tests-client-secret"  # a test client's, of a provider that lives for one test run


def ensure_installed() -> None:
    if not shutil.which("node"):
        raise RuntimeError("Node.js is needed for the OIDC provider tests (apt-get install nodejs npm)")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=PROVIDER_DIR, check=True, capture_output=True, timeout=300
        )


class _Forms(HTMLParser):
    """The forms of a page: action, method and input values."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append(
                {"action": a.get("action") or "", "method": (a.get("method") or "get").lower(), "data": {}}
            )
        elif tag in ("input", "button") and self.forms and a.get("name"):
            self.forms[-1]["data"][a["name"]] = a.get("value") or ""


@dataclass
class OidcProvider:
    issuer: str
    process: subprocess.Popen[bytes]
    users_file: Path
    key_file: Path
    log: Path
    users: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def endpoints(self) -> dict[str, str]:
        return requests.get(f"{self.issuer}/.well-known/openid-configuration", timeout=10).json()

    def django_settings(self) -> dict[str, Any]:
        """The settings (mozilla-django-oidc's names) that point Atrium here."""
        meta = self.endpoints
        return {
            "OIDC_RP_CLIENT_ID": CLIENT_ID,
            "OIDC_RP_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_RP_SCOPES": "openid email profile groups",
            "OIDC_OP_AUTHORIZATION_ENDPOINT": meta["authorization_endpoint"],
            "OIDC_OP_TOKEN_ENDPOINT": meta["token_endpoint"],
            "OIDC_OP_USER_ENDPOINT": meta["userinfo_endpoint"],
            "OIDC_OP_JWKS_ENDPOINT": meta["jwks_uri"],
            "OIDC_OP_LOGOUT_ENDPOINT": meta["end_session_endpoint"],
            "OIDC_OP_ISSUER": meta["issuer"],
        }

    def set_person(self, login: str, **claims: Any) -> None:
        self.users[login] = claims
        self.users_file.write_text(json.dumps(self.users))

    def sign_in(
        self, authorize_url: str, login: str, *, consent: bool = True, browser: requests.Session | None = None
    ) -> str:
        """Play the person at the provider: log in, consent. Returns the URL
        the provider sends the browser back to (the portal's callback)."""
        browser = browser or requests.Session()
        url = authorize_url
        for _ in range(12):
            response = browser.get(url, allow_redirects=False, timeout=10)
            if response.status_code in (302, 303):
                url = urljoin(url, response.headers["Location"])
                if urlsplit(url).netloc != urlsplit(self.issuer).netloc:
                    return url  # back to the relying party
                continue
            forms = _Forms()
            forms.feed(response.text)
            if not forms.forms:
                raise AssertionError(f"no form at {url}: {response.status_code} {response.text[:500]}")
            form = forms.forms[0]
            data = dict(form["data"])
            if data.get("prompt") == "login":
                data.update(login=login, password="any password")
            elif data.get("prompt") == "consent" and not consent:
                # The person presses "Cancel" (a link to .../abort) instead of consenting.
                url = urljoin(url, form["action"].rstrip("/") + "/abort")
                continue
            post = browser.post(urljoin(url, form["action"]), data=data, allow_redirects=False, timeout=10)
            url = urljoin(url, post.headers["Location"])
            if urlsplit(url).netloc != urlsplit(self.issuer).netloc:
                return url
        raise AssertionError("the provider never sent the browser back")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def start_provider(
    tmp: Path, *, redirect_uris: list[str], post_logout_uris: tuple[str, ...] = (), key_file: Path | None = None
) -> OidcProvider:
    ensure_installed()
    port = free_port()
    users_file = tmp / f"users-{port}.json"
    users_file.write_text("{}")
    key_file = key_file or tmp / f"key-{port}.pem"
    log = tmp / f"provider-{port}.log"
    env = {
        **os.environ,
        "PORT": str(port),
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "REDIRECT_URIS": ",".join(redirect_uris),
        "POST_LOGOUT_REDIRECT_URIS": ",".join(post_logout_uris),
        "USERS_FILE": str(users_file),
        "KEY_FILE": str(key_file),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["node", "provider.mjs"], cwd=PROVIDER_DIR, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/.well-known/openid-configuration", timeout=2).ok:
                break
        except requests.RequestException:
            time.sleep(0.1)
    else:
        process.terminate()
        raise RuntimeError(f"OIDC provider did not start:\n{log.read_text()}")
    return OidcProvider(issuer=base, process=process, users_file=users_file, key_file=key_file, log=log)
