"""Two web processes and two workers on one PostgreSQL and Redis, as production
runs them: a page open on one web process sees the jobs that either worker
runs, whichever web process the request that started them went to."""

import asyncio
import os
import re
import secrets
import time

import pytest
import redis
import requests
import websockets

from tests.servers import base_env, isolated_database, manage, run_in_thread, sign_in, web_server
from tests.sockets import live_path
from tests.workers import workers

REDIS_URL = os.environ.get("REDIS_URL", "")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")) or not REDIS_URL,
        reason="several processes share one PostgreSQL and the Redis channel layer: the PostgreSQL run "
        "(SQLite with the in-memory layer is the one-process embedded mode)",
    ),
]

ROW = re.compile(r'<tr id="job-row-(\d+)"(.*?)</tr>', re.S)


def create_machines(session: requests.Session, url: str, tenancy: int, count: int) -> list[int]:
    """POST `count` machines at once (create jobs, which give their worker back while the cloud
    builds, so either worker takes each look); their job ids."""
    base = f"{url}api/v1/tenancies/{tenancy}/"
    image = session.get(f"{base}images/", timeout=10).json()["results"][0]["id"]
    size = session.get(f"{base}sizes/", timeout=10).json()["results"][0]["id"]
    headers = {"X-CSRFToken": session.cookies["csrftoken"] or "", "Referer": url}
    jobs = []
    for i in range(count):
        body = {"name": f"multi-{i}", "image_id": image, "size_id": size}
        response = session.post(f"{base}machines/", json=body, headers=headers, timeout=10)
        assert response.status_code == 202, response.text
        jobs.append(response.json()["id"])
    return jobs


async def watch_jobs(page_url: str, path: str, cookie: str, start: "asyncio.Future[list[int]]") -> dict[int, str]:
    """The jobs list's socket on one web process: each job's last state seen, until all started ones end."""
    seen: dict[int, str] = {}
    async with websockets.connect(
        page_url.replace("http://", "ws://") + path.lstrip("/"),
        origin=websockets.Origin(page_url.rstrip("/")),
        additional_headers={"Cookie": cookie},
        open_timeout=10,
    ) as socket:
        jobs = await start
        deadline = time.monotonic() + 90
        while not all(seen.get(job) in ("Succeeded", "Failed", "Cancelled") for job in jobs):
            assert time.monotonic() < deadline, f"the page saw only {seen} of jobs {jobs}"
            message = str(await asyncio.wait_for(socket.recv(), timeout=60))
            for job, row in ROW.findall(message):
                state = re.search(r"</i> (\w+)", row)
                if state:
                    seen[int(job)] = state.group(1)
    return seen


@pytest.mark.parametrize("backend", ["database", "rq"])
def test_a_page_on_one_web_process_sees_jobs_run_by_either_worker(tmp_path, backend):
    run = secrets.token_hex(4)
    with isolated_database(tmp_path) as database:
        shared = {
            "DATABASE_URL": database,
            "REDIS_URL": REDIS_URL,
            "CHANNEL_LAYER": "redis",
            "CHANNEL_LAYER_PREFIX": f"atrium-multi-{run}",
            "TASK_BACKEND": backend,
            "ATRIUM_JOB_QUEUE": f"atrium-multi-{run}",
            "ATRIUM_MACHINE_POLL_INTERVAL": "0.5",
        }
        env = base_env(ATRIUM_VAR_DIR=str(tmp_path), **shared)
        manage("migrate", "--noinput", env=env)
        manage("load_demo", env=env)
        try:
            with (
                workers(tmp_path, count=2, env=shared),
                web_server(tmp_path, env, name="web-a") as web_a,
                web_server(tmp_path, env, name="web-b") as web_b,
            ):
                physicist = sign_in(web_b, "physicist")  # one session; both processes read it from the database
                tenancy = physicist.get(f"{web_b}api/v1/tenancies/", timeout=10).json()["results"][0]["id"]
                page = physicist.get(f"{web_a}tenancies/{tenancy}/jobs/", timeout=10)
                cookie = f"sessionid={physicist.cookies['sessionid']}"

                async def scenario() -> tuple[list[int], dict[int, str]]:
                    started: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
                    watching = asyncio.create_task(watch_jobs(web_a, live_path(page.text), cookie, started))
                    await asyncio.sleep(0.5)  # the socket has joined the tenancy's group
                    # Four builds at once on web B: the two workers share their runs and looks.
                    jobs = await asyncio.to_thread(create_machines, physicist, web_b, tenancy, 4)
                    started.set_result(jobs)
                    return jobs, await watching

                jobs, seen = run_in_thread(lambda: asyncio.run(scenario()))
                assert seen == dict.fromkeys(jobs, "Succeeded")
                ran_by = manage(
                    "shell",
                    "--no-imports",
                    "-c",
                    "from apps.jobs.models import Job, JobLogLine; "
                    f"print(*Job.objects.filter(pk__in={jobs}).values_list('worker_id', flat=True)); "
                    "print(*(line.rsplit(' ', 1)[1].rstrip('.') for line in JobLogLine.objects.filter("
                    f"job__in={jobs}, message__contains=' started on ').values_list('message', flat=True)))",
                    env=env,
                ).split()
                assert len(set(ran_by)) == 2, f"one worker ran every job: {ran_by}"
        finally:
            client = redis.Redis.from_url(REDIS_URL)
            for key in client.scan_iter(f"*atrium-multi-{run}*"):
                client.delete(key)
