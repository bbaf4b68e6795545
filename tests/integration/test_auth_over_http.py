"""Sign-in and API credentials against the real server (uvicorn, as `make run`
starts it): raw bytes in Authorization, the limits on guessing, /healthz."""

import secrets
import socket
from urllib.parse import urlsplit

import pytest
import requests

from tests.servers import running_portal

pytestmark = pytest.mark.slow


def raw_get(url: str, path: str, authorization: bytes) -> tuple[int, bytes]:
    """One request written byte by byte, as any client may send it."""
    parts = urlsplit(url)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\nConnection: close\r\n".encode()
        + b"Authorization: "
        + authorization
        + b"\r\n\r\n"
    )
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def test_the_real_server_refuses_bad_credentials_clearly_and_limits_guessing(tmp_path):
    with running_portal(
        tmp_path,
        ATRIUM_API_BAD_TOKEN_RATE="6/min",
        ATRIUM_LOGIN_FAILURE_LIMIT="3",
        CACHE_KEY_PREFIX=f"test-{secrets.token_hex(4)}",  # counts of earlier runs sharing the Redis stay apart
    ) as portal:
        # Raw bytes that are not UTF-8 (or not a token at all): 401 in the API's shape, never a 500.
        for header in (b"Token \xff\xfe\x80\x81", b"Bearer \xc3\x28", b"\xff\xfe\xfd", b"Token atrium_\xe9"):
            status, body = raw_get(portal.url, "/api/v1/me/", header)
            assert status in (400, 401, 403), (header, status, body)
            if status != 400:  # (the HTTP parser itself may refuse some bytes: also fine)
                assert b'"error"' in body, body
        # Those were bad credentials from this address too; a few more reach the limit.
        me = f"{portal.url}api/v1/me/"
        answers = [
            requests.get(me, headers={"Authorization": f"Token atrium_{secrets.token_hex(32)}"}, timeout=10)
            for _ in range(6)
        ]
        throttled = answers[-1]
        assert throttled.status_code == 429, [a.status_code for a in answers]
        assert int(throttled.headers["Retry-After"]) >= 1
        assert throttled.json()["error"]["code"] == "throttled"

        # Password guessing: locked after 3, on the sign-in page, with Retry-After.
        browser = requests.Session()
        login = f"{portal.url}accounts/login/"
        browser.get(login, timeout=10)
        form = {"csrfmiddlewaretoken": browser.cookies["csrftoken"]}
        headers = {"Referer": login}
        codes = [
            browser.post(login, data={**form, "username": "operator", "password": f"x{n}"}, headers=headers).status_code
            for n in range(3)
        ]
        assert codes == [200, 200, 429]  # the form again, then the lockout at the third failure
        right = browser.post(login, data={**form, "username": "operator", "password": "operator"}, headers=headers)
        assert right.status_code == 429
        assert 1 <= int(right.headers["Retry-After"]) <= 900
        assert "Too many failed sign-in attempts" in right.text
        assert "sessionid" not in browser.cookies

        # A load balancer learns only whether Atrium is up.
        assert requests.get(f"{portal.url}healthz", timeout=10).json() == {"status": "ok"}
