"""Wait (briefly) for PostgreSQL and Redis before the PostgreSQL test run,
and say clearly which one is missing."""

import sys
import time
from urllib.parse import urlsplit

import psycopg
import redis


def wait(check, what: str, seconds: float = 15) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while True:
        try:
            check()
            return
        except Exception as exc:  # noqa: BLE001 - report whatever stops the connection
            if time.monotonic() > deadline:
                sys.exit(f"{what} is not reachable: {exc}")
            time.sleep(0.5)


def main(pg_url: str, redis_url: str) -> None:
    parts = urlsplit(pg_url)
    # Connect to the maintenance database: the test database is created by pytest-django.
    dsn = parts._replace(path="/postgres").geturl().replace("postgres://", "postgresql://", 1)
    wait(lambda: psycopg.connect(dsn, connect_timeout=3).close(), f"PostgreSQL at {parts.hostname}:{parts.port}")
    wait(lambda: redis.Redis.from_url(redis_url, socket_timeout=3).ping(), f"Redis at {redis_url}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
