"""A PostgreSQL and a Redis of the test's own, on free loopback ports, that the test may
restart (the machine's shared ones, which other runs use, are never touched).

PostgreSQL runs from Debian's /usr/lib/postgresql/<version>/bin (initdb, pg_ctl); as root,
as the `postgres` user (PostgreSQL refuses to run as root), in a directory made for it.
"""

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.servers import free_port


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@dataclass
class PrivatePostgres:
    bin: Path
    data: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            _as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", *args]),
            check=True,
            capture_output=True,
            timeout=90,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl("-l", str(self.data / "server.log"), "-o", options, "start")

    def restart(self) -> None:
        """Stop (closing every connection, as a crash or an upgrade would) and start again."""
        self._ctl("-m", "fast", "stop")
        self.start()


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    bin_dir = postgres_bin()
    if bin_dir is None or not shutil.which("runuser"):
        raise RuntimeError("PostgreSQL's initdb/pg_ctl (/usr/lib/postgresql/*/bin) and runuser are needed")
    home = Path(tempfile.mkdtemp(prefix="atrium-pg-"))
    data = home / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(home, "postgres")
        shutil.chown(data, "postgres")
    home.chmod(0o755)
    subprocess.run(
        _as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"]),
        check=True,
        capture_output=True,
        timeout=120,
    )
    server = PrivatePostgres(bin=bin_dir, data=data, port=free_port())
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            server._ctl("-m", "immediate", "stop")
        shutil.rmtree(home, ignore_errors=True)


@dataclass
class PrivateRedis:
    port: int
    directory: Path
    process: "subprocess.Popen[bytes] | None" = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)],
            stdout=(self.directory / "redis.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)

    def restart(self) -> None:
        """Stop (Redis saves its data on a clean shutdown) and start again on the same port."""
        self.stop()
        self.start()


@contextlib.contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    if not shutil.which("redis-server"):
        raise RuntimeError("redis-server is needed")
    with tempfile.TemporaryDirectory(prefix="atrium-redis-") as directory:
        server = PrivateRedis(port=free_port(), directory=Path(directory))
        server.start()
        try:
            yield server
        finally:
            server.stop()
