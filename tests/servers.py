"""Real Atrium processes for tests: a worker, or the whole `make run` stack
(uvicorn + worker under supervisord, from supervisord.conf) on a free loopback
port, each with a database of its own."""

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import psycopg
import requests

T = TypeVar("T")
# Ports of the portals started in this test run (browser tests tell our pages from others').
PORTAL_PORTS: set[int] = set()

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings.base",
        PYTHONUNBUFFERED="1",
        ATRIUM_WORKER_HEARTBEAT_INTERVAL="0.5",
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    env.update(extra)
    return env


@contextlib.contextmanager
def isolated_database(tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of the kind this run tests (DATABASE_URL)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{tmp_path / 'atrium.sqlite3'}"
        return
    parts = urlsplit(url)
    name = f"atrium_it_{secrets.token_hex(4)}"
    admin_dsn = parts._replace(scheme="postgresql", path="/postgres").geturl()
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield parts._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    if result.returncode:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


@dataclass
class Portal:
    url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def interrupt(self, timeout: float = 30) -> int:
        """Ctrl-C, as a person at the terminal would; returns supervisord's exit code."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
                raise AssertionError(f"Atrium did not stop on Ctrl-C:\n{self.output()}") from None
        return self.process.returncode


def sign_in(url: str, username: str) -> requests.Session:
    """A session signed in with the demo password (user name = password) on a portal at `url`."""
    session = requests.Session()
    session.get(f"{url}accounts/login/", timeout=10)
    response = session.post(
        f"{url}accounts/login/",
        data={"username": username, "password": username, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": f"{url}accounts/login/"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.url == url
    return session


def wait_healthy(url: str, portal_log: Path | None = None, timeout: float = 90) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = requests.get(f"{url}healthz", timeout=5)
            if response.status_code == 200:
                return response.json()
            last = f"{response.status_code} {response.text}"
        except requests.RequestException as exc:
            last = str(exc)
        time.sleep(0.3)
    log = portal_log.read_text(errors="replace") if portal_log else ""
    raise AssertionError(f"/healthz never answered 200 within {timeout} s (last: {last})\n{log}")


@contextlib.contextmanager
def running_portal(
    tmp_path: Path, *, database_url: str | None = None, port: int | None = None, **extra_env: str
) -> Iterator[Portal]:
    """The `make run` stack: migrate, load the demo, then supervisord with supervisord.conf.

    Without `database_url`, the portal gets a fresh database that is dropped after.
    """
    if database_url is None:
        with (
            isolated_database(tmp_path) as fresh,
            running_portal(tmp_path, database_url=fresh, port=port, **extra_env) as portal,
        ):
            yield portal
        return
    port = port or free_port()
    PORTAL_PORTS.add(port)
    # A cache of its own in a shared Redis: one test's bad credentials must not throttle another's portal.
    extra_env.setdefault("CACHE_KEY_PREFIX", f"atrium-test-{secrets.token_hex(4)}")
    env = base_env(
        DATABASE_URL=database_url, ATRIUM_VAR_DIR=str(tmp_path), HOST="127.0.0.1", PORT=str(port), **extra_env
    )
    manage("migrate", "--noinput", env=env)
    manage("load_demo", env=env)
    log = tmp_path / f"portal-{port}.log"
    # Appending: supervisord writes its children's output through /dev/stdout,
    # a second open file; without O_APPEND each would overwrite the other's lines.
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(VENV_BIN / "supervisord"), "-c", "supervisord.conf", "--pidfile", str(tmp_path / f"{port}.pid")],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    portal = Portal(url=f"http://127.0.0.1:{port}/", env=env, process=process, log=log)
    try:
        wait_healthy(portal.url, log)
        yield portal
    finally:
        with contextlib.suppress(AssertionError):
            portal.interrupt()


@contextlib.contextmanager
def web_server(tmp_path: Path, env: dict[str, str], *, name: str = "web", access_log: bool = True) -> Iterator[str]:
    """One uvicorn serving Atrium as supervisord.conf starts it, with `env`; yields its URL."""
    from tests.workers import stop  # tests.workers imports this module

    port = free_port()
    PORTAL_PORTS.add(port)
    log = tmp_path / f"{name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                *(str(VENV_BIN / "uvicorn"), "portal.asgi:application", "--host", "127.0.0.1", "--port", str(port)),
                "--lifespan",
                "off",
                *(() if access_log else ("--no-access-log",)),
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(requests.ConnectionError):
                requests.get(f"{url}healthz", timeout=5)  # any answer: it serves
                break
            if time.monotonic() > deadline or process.poll() is not None:
                raise AssertionError(f"The web server did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.3)
        yield url
    finally:
        stop(process)  # Ctrl-C


def run_in_thread(fn: Callable[[], T]) -> T:
    """Run `fn` in a fresh thread: for asyncio.run/async_to_sync from tests whose
    thread already has an event loop (Playwright's sync API leaves one)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn).result(timeout=60)
