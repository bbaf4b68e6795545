"""Load run: the `make run` stack (uvicorn + a worker, on loopback) under
concurrent members reading the machine and job lists (pages and API) and
creating machines, with locust (tests/perf/locustfile.py) in its own process.

Bounded: ATRIUM_LOAD_USERS users (default 8) for at most ATRIUM_LOAD_SECONDS
(30) or ATRIUM_LOAD_REQUESTS requests (3,000), whichever comes first. Prints
throughput and p50/p95/p99 per request; passes only with 0 errors (no
assertion on time). Run with `make bench` (or
`make bench PYTEST_ARGS=tests/perf/bench_load.py`).
"""

import csv
import os
import subprocess
from pathlib import Path

import requests

from tests.servers import ROOT, VENV_BIN, manage, running_portal, sign_in

USERS = os.environ.get("ATRIUM_LOAD_USERS", "8")
SECONDS = os.environ.get("ATRIUM_LOAD_SECONDS", "30")
REQUESTS = os.environ.get("ATRIUM_LOAD_REQUESTS", "3000")


def test_lists_and_create_under_load(tmp_path: Path) -> None:
    with running_portal(tmp_path, LOG_LEVEL="WARNING") as portal:
        session = sign_in(portal.url, "physicist").cookies["sessionid"]
        token = manage("create_token", "physicist", "--name", "load run", env=portal.env).strip()
        api = requests.Session()
        api.headers["Authorization"] = f"Token {token}"
        tenancy = api.get(f"{portal.url}api/v1/tenancies/", timeout=10).json()["results"][0]
        base = f"{portal.url}api/v1/tenancies/{tenancy['id']}/"
        image = api.get(f"{base}images/", timeout=10).json()["results"][0]["id"]
        size = api.get(f"{base}sizes/", timeout=10).json()["results"][0]["id"]
        # Room for every machine the run may ask for: a 409 for the quota would be the run's error, not Atrium's.
        manage(
            "shell",
            "--no-imports",
            "-c",
            "from apps.tenancies.models import Tenancy; from apps.clouds.local.services import local_quota_set; "
            f"t = Tenancy.objects.get(pk={tenancy['id']}); "
            "local_quota_set(cloud=t.cloud, project_id=t.project_id, machines=100000, cpus=10**7, ram_mb=10**9); "
            # Requests check the limits as last read: read them now, as the next sync would.
            "from apps.catalogue.services import catalogue_refresh; catalogue_refresh(tenancy=t)",
            env=portal.env,
        )
        stats = tmp_path / "load"
        run = subprocess.run(
            [
                str(VENV_BIN / "locust"),
                *("-f", "tests/perf/locustfile.py", "--headless", "--only-summary", "--host", portal.url.rstrip("/")),
                *("--users", USERS, "--spawn-rate", USERS, "--run-time", f"{SECONDS}s", "--stop-timeout", "10"),
                *("--csv", str(stats), "--loglevel", "WARNING"),
            ],
            cwd=ROOT,
            env={
                **os.environ,
                "ATRIUM_LOAD_TENANCY": str(tenancy["id"]),
                "ATRIUM_LOAD_TOKEN": token,
                "ATRIUM_LOAD_SESSION": str(session),
                "ATRIUM_LOAD_IMAGE": image,
                "ATRIUM_LOAD_SIZE": size,
                "ATRIUM_LOAD_REQUESTS": REQUESTS,
            },
            capture_output=True,
            text=True,
            timeout=int(SECONDS) + 120,
        )
        rows = list(csv.DictReader((stats.parent / f"{stats.name}_stats.csv").open()))
        failures = (stats.parent / f"{stats.name}_failures.csv").read_text()
        database = "PostgreSQL" if portal.env["DATABASE_URL"].startswith("postgres") else "SQLite"
        print(f"\nLoad run: {USERS} users, at most {SECONDS} s or {REQUESTS} requests, {database}, one uvicorn:")
        print(f"  {'request':<22}{'count':>7}{'errors':>8}{'req/s':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}")
        for row in rows:
            print(
                f"  {row['Name']:<22}{row['Request Count']:>7}{row['Failure Count']:>8}"
                f"{float(row['Requests/s']):>8.1f}{row['50%']:>8}{row['95%']:>8}{row['99%']:>8}"
            )
        errors = sum(int(row["Failure Count"]) for row in rows if row["Name"] == "Aggregated")
        assert errors == 0, f"{errors} errors:\n{failures}\n{run.stderr[-3000:]}"
        assert run.returncode == 0, run.stderr[-3000:]
