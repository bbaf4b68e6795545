"""Benchmarks of jobs: enqueue-to-start latency through real workers (database
and RQ backends), a burst of machine creates on few workers (builds waiting for
the cloud hold no worker, so no job queues behind a sleeping one) and
event-to-browser latency of live log lines over the tenancy websocket of the
real `make run` stack.

Run with `make bench`; prints figures, asserts nothing about time.
"""

import asyncio
import os
import re
import secrets
import statistics
import time
from datetime import datetime

import pytest
import redis
import requests
import websockets

from apps.jobs.models import Job
from apps.jobs.services import job_create
from tests.factories import TenancyFactory
from tests.servers import run_in_thread, running_portal
from tests.workers import wait_for, workers

ROUNDS = 30


def percentiles(label: str, values_ms: list[float]) -> None:
    q = statistics.quantiles(values_ms, n=20)
    print(
        f"  {label:<38} n={len(values_ms):<4} p50 {statistics.median(values_ms):7.1f} ms"
        f"   p95 {q[18]:7.1f} ms   max {max(values_ms):7.1f} ms"
    )


def enqueue_to_start(tmp_path, env: dict[str, str] | None = None) -> list[float]:
    tenancies = [TenancyFactory() for _ in range(ROUNDS)]
    latencies = []
    with workers(tmp_path, env=env):
        # One job at a time, each on an idle worker: the latency of the machinery, not of a queue.
        warm = job_create(kind="test.steps", tenancy=tenancies[0], target=tenancies[0])
        wait_for(lambda: Job.objects.get(pk=warm.pk).state == Job.State.SUCCEEDED, "warm-up", logs=tmp_path)
        for tenancy in tenancies[1:]:
            job = job_create(kind="test.steps", tenancy=tenancy, target=tenancy)

            def started(job: Job = job) -> datetime | None:
                return Job.objects.get(pk=job.pk).started_at

            start = wait_for(started, "the job to start", logs=tmp_path)
            assert start is not None
            latencies.append((start - job.created_at).total_seconds() * 1000)
    return latencies


@pytest.mark.django_db(transaction=True)
def test_enqueue_to_start_latency(tmp_path, settings):
    print("\nEnqueue-to-start (job row created → worker marks it running), one worker, idle:")
    percentiles("database backend (--interval 0.1)", enqueue_to_start(tmp_path))
    url = os.environ.get("REDIS_URL") or os.environ.get("ATRIUM_TEST_REDIS_URL")
    if not url:
        print("  rq backend: skipped (no REDIS_URL / ATRIUM_TEST_REDIS_URL)")
        return
    queue = f"atrium-bench-{secrets.token_hex(4)}"
    settings.ATRIUM_JOB_QUEUE = queue
    settings.RQ_QUEUES = {queue: {"URL": url}, "default": {"URL": url}}
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default", queue]}}
    try:
        latencies = enqueue_to_start(tmp_path, {"REDIS_URL": url, "TASK_BACKEND": "rq", "ATRIUM_JOB_QUEUE": queue})
        percentiles("rq backend", latencies)
    finally:
        client = redis.Redis.from_url(url)
        for key in client.scan_iter(f"rq:*{queue}*"):
            client.delete(key)


BURST, BURST_WORKERS, BUILD_SECONDS = 20, 2, 5.0


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_creates_queues_no_job_behind_a_sleeping_one(tmp_path):
    """BURST creates at once on BURST_WORKERS workers and the local cloud (each build
    BUILD_SECONDS): how long each job was queued before a worker took it (a job behind builds
    holding workers would wait a build's length), and how much later than the cloud Atrium
    shows each machine active (the looks' backoff: first after 1 s, then up to every 2 s)."""
    from apps.catalogue.selectors import catalogue_get
    from apps.clouds.local.seed import local_cloud_seed
    from apps.clouds.local.services import local_quota_set
    from apps.machines import services
    from tests.factories import CloudFactory, MembershipFactory, UserFactory

    cloud = CloudFactory(name="Burst cloud", options={"build_seconds": BUILD_SECONDS, "action_seconds": 1})
    local_cloud_seed(cloud, projects=["burst-project"])
    tenancy = TenancyFactory(name="Burst", cloud=cloud, project_id="burst-project")
    local_quota_set(cloud=cloud, project_id="burst-project", machines=BURST, cpus=BURST * 4, ram_mb=BURST * 8192)
    user = UserFactory(username="burster")
    MembershipFactory(user=user, tenancy=tenancy)
    catalogue = catalogue_get(tenancy=tenancy)
    image = next(i["id"] for i in catalogue.images if i["name"] == "Ubuntu 24.04 LTS")
    size = next(s["id"] for s in catalogue.sizes if s["name"] == "small")
    with workers(tmp_path, count=BURST_WORKERS):
        from apps.jobs.models import WorkerHeartbeat

        alive = WorkerHeartbeat.objects.filter(stopped_at__isnull=True)
        wait_for(lambda: alive.count() == BURST_WORKERS, "the workers to start", logs=tmp_path)
        jobs = [
            services.machine_create(tenancy=tenancy, user=user, name=f"burst-{i}", image_id=image, size_id=size).job
            for i in range(BURST)
        ]
        wait_for(
            lambda: all(Job.objects.get(pk=job.pk).state == Job.State.SUCCEEDED for job in jobs),
            "the burst to build",
            timeout=300,
            logs=tmp_path,
        )
    queued, behind_cloud = [], []
    for job in Job.objects.filter(pk__in=[j.pk for j in jobs]):
        stages = {stage.name: stage for stage in job.stages.all()}
        created, built = stages["Create server"].finished_at, stages["Wait until active"].finished_at
        assert job.started_at
        assert created
        assert built
        queued.append((job.started_at - job.created_at).total_seconds() * 1000)
        behind_cloud.append((built - created).total_seconds() * 1000 - BUILD_SECONDS * 1000)
    print(f"\nA burst of {BURST} creates, {BURST_WORKERS} workers, local cloud builds of {BUILD_SECONDS:g} s:")
    percentiles("queued before a worker took it", queued)
    percentiles("active on Atrium after the cloud", behind_cloud)
    behind = sum(q > BUILD_SECONDS * 1000 for q in queued)
    print(f"  jobs queued longer than a build (behind a sleeping one): {behind} of {BURST}")


LINE = re.compile(r'<time datetime="([^"]+)">[^<]*</time> <span>Bench line (\d+)</span>')


async def watch(url: str, cookie: str, path: str, count: int) -> list[float]:
    latencies: list[float] = []
    async with websockets.connect(
        url.replace("http://", "ws://") + path.lstrip("/"),
        origin=websockets.Origin(url.rstrip("/")),
        additional_headers={"Cookie": cookie},
    ) as socket:
        deadline = time.monotonic() + 60
        while len(latencies) < count and time.monotonic() < deadline:
            message = await asyncio.wait_for(socket.recv(), timeout=30)
            now = datetime.now().astimezone()
            for at, _ in LINE.findall(str(message)):
                latencies.append((now - datetime.fromisoformat(at)).total_seconds() * 1000)
    return latencies


def test_event_to_browser_latency(tmp_path):
    count = 40
    with running_portal(tmp_path, ATRIUM_JOB_MODULES="tests.perf.bench_sync", ATRIUM_SYNC_INTERVAL="0") as portal:
        session = requests.Session()
        session.get(f"{portal.url}accounts/login/", timeout=10)
        session.post(
            f"{portal.url}accounts/login/",
            data={
                "username": "physicist",
                "password": "physicist",
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
            },
            headers={"Referer": f"{portal.url}accounts/login/"},
            timeout=10,
        )
        tenancy = session.get(f"{portal.url}api/v1/tenancies/", timeout=10).json()["results"][0]["id"]
        cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items() if v)
        job = session.post(
            f"{portal.url}api/v1/tenancies/{tenancy}/sync/",
            headers={"X-CSRFToken": session.cookies["csrftoken"] or "", "Referer": portal.url},
            timeout=10,
        ).json()
        log_after = job_log_after(session, portal.url, job["id"])
        path = f"/ws/tenancies/{tenancy}/?job={job['id']}&log_after={log_after}"
        latencies = run_in_thread(lambda: asyncio.run(watch(portal.url, cookie, path, count)))
        layer = "Redis" if os.environ.get("REDIS_URL") else "in-memory (database re-read every 1 s)"
        print(f"\nEvent-to-browser (log line written in the worker → fragment on the socket), {layer} layer:")
        percentiles("live log lines", latencies)


def job_log_after(session: requests.Session, url: str, job_id: int) -> int:
    log = session.get(f"{url}api/v1/jobs/{job_id}/", timeout=10).json()["log"]
    return max((line["id"] for line in log), default=0)
