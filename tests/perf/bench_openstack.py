"""Benchmark against real OpenStack services (tests/openstack/up.sh): 50 machines
created through Atrium, as a user would, and then:

- create request → ACTIVE as Atrium's row shows it, next to the same servers'
  timeline in Nova (when Nova accepted the create, when it marked it ACTIVE);
- Atrium's machine-list API (50 rows, read from Atrium's database) next to a
  direct openstacksdk `compute.servers(details=True)` of the same 50 servers;
  the ratio is the figure;
- the tenancy sync (the path that reads Nova) for those 50 servers: time, database
  queries and HTTP calls per OpenStack service.

The servers are deleted at the end through Atrium, with a direct delete of
whatever is left as a safety net, even when the benchmark fails.

What runs: a real web server (uvicorn, `portal.asgi`) and real `manage.py worker`
processes (ATRIUM_BENCH_WORKERS, default 10; one job at a time each, as in
production) on the test database, with the production defaults for job
heartbeats and ATRIUM_MACHINE_POLL_INTERVAL (ATRIUM_BENCH_POLL_INTERVAL,
default 2 s). The benchmark signs in with a personal API token and talks HTTP to
the web server; the syncs run in this process (workers stopped), so their
queries and HTTP calls can be counted.

Setup with the rig's `admin` cloud: a Keystone project `atrium-bench` and user
`atrium-bench` (member), big quotas, and an application credential made for the
run (deleted after it), registered in Atrium with `cloud_register` and
`tenancy_register` like production. Atrium's driver makes the project's network,
subnet and router (`tenant_network()`) the first time; the project, user and
network are kept for the next run. Nothing of the `demo` project is touched.

Needs ATRIUM_TEST_OPENSTACK_CLOUDS_YAML (skips, saying so, without it) and
PostgreSQL (DATABASE_URL): ten workers and a web server write at once.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/atrium_bench \\
    ATRIUM_TEST_OPENSTACK_CLOUDS_YAML=/tmp/atrium-osrig/clouds.yaml \\
    make bench PYTEST_ARGS=tests/perf/bench_openstack.py

Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import statistics
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import yaml
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from requests.adapters import HTTPAdapter

from apps.accounts.services import api_token_create
from apps.clouds.openstack import sdk
from apps.clouds.registry import driver_for_tenancy
from apps.core.resources import services as resource_services
from apps.jobs.models import Job, JobStage
from apps.jobs.runner import job_run
from apps.jobs.services import tenancy_sync_start
from apps.machines.jobs import sync as machines_sync
from apps.machines.models import Machine
from apps.tenancies.models import Cloud, Tenancy
from tests.contract.openstack_rig import password_connection
from tests.factories import MembershipFactory, UserFactory
from tests.servers import base_env, web_server
from tests.workers import worker_database_url, workers

CLOUDS_YAML = os.environ.get("ATRIUM_TEST_OPENSTACK_CLOUDS_YAML", "")
MACHINES = int(os.environ.get("ATRIUM_BENCH_MACHINES", "50"))
WORKERS = int(os.environ.get("ATRIUM_BENCH_WORKERS", "10"))
POLL_INTERVAL = os.environ.get("ATRIUM_BENCH_POLL_INTERVAL", "2")
PROJECT = "atrium-bench"
LIST_ROUNDS = 30
SYNC_ROUNDS = 3
PINNED_MICROVERSION = "2.61"
ID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")
BUILD_DEADLINE = 900  # seconds for all machines to become ACTIVE (a deadline, not a judgement)

pytestmark = [
    pytest.mark.skipif(
        not CLOUDS_YAML,
        reason="OpenStack benchmark: set ATRIUM_TEST_OPENSTACK_CLOUDS_YAML to a clouds.yaml with an `admin` cloud "
        "(tests/openstack/up.sh writes one) to run it",
    ),
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
        reason="OpenStack benchmark: needs PostgreSQL (DATABASE_URL); ten workers and a web server write at once",
    ),
]


# --- figures ---------------------------------------------------------------------------------------


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else values[0]


def row(label: str, values: list[float], digits: int = 1) -> str:
    """A table row: p50, p95 and max of `values`."""
    if not values:
        return f"  {label:<58}{'(none)':>9}"
    return f"  {label:<58}" + "".join(
        f"{v:>9.{digits}f}" for v in (statistics.median(values), p95(values), max(values))
    )


def seconds(later: datetime | None, earlier: datetime | None) -> float | None:
    return (later - earlier).total_seconds() if later and earlier else None


def nova_time(value: Any) -> datetime | None:
    """Nova's timestamps are UTC, with or without a zone."""
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class Call:
    method: str
    url: str
    status: int
    seconds: float
    microversion: str


@contextlib.contextmanager
def http_calls() -> Iterator[list[Call]]:
    """Every HTTP request this process makes meanwhile (keystoneauth and requests go through
    HTTPAdapter.send), with its time: counted, not changed."""
    calls: list[Call] = []
    original = HTTPAdapter.send

    def send(self: HTTPAdapter, request: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        response = original(self, request, *args, **kwargs)
        version = request.headers.get("OpenStack-API-Version") or request.headers.get("X-OpenStack-Nova-API-Version")
        calls.append(
            Call(request.method, request.url, response.status_code, time.perf_counter() - start, version or "")
        )
        return response

    HTTPAdapter.send = send  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        HTTPAdapter.send = original  # type: ignore[method-assign]


@contextlib.contextmanager
def timed(owner: Any, name: str) -> Iterator[list[float]]:
    """How long each call of `owner.name` takes meanwhile (counted, not changed)."""
    times: list[float] = []
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            times.append(time.perf_counter() - start)

    setattr(owner, name, wrapper)
    try:
        yield times
    finally:
        setattr(owner, name, original)


def by_service(calls: list[Call], services: dict[str, str]) -> str:
    counts: Counter[str] = Counter()
    spent: defaultdict[str, float] = defaultdict(float)
    for call in calls:
        name = services.get(urlsplit(call.url).netloc, urlsplit(call.url).netloc)
        counts[name] += 1
        spent[name] += call.seconds
    return ", ".join(f"{name} {counts[name]} ({spent[name] * 1000:.0f} ms)" for name in sorted(counts))


def paths(calls: list[Call]) -> str:
    """The calls by method and path (ids replaced), in order of first use."""
    counts = Counter(f"{c.method} {ID.sub('{id}', urlsplit(c.url).path)}" for c in calls)
    return ", ".join(f"{path} x{count}" if count > 1 else path for path, count in counts.items())


# --- the bench's OpenStack project -------------------------------------------------------------------


@dataclass
class BenchProject:
    """The Keystone project, its member and an application credential for this run."""

    auth_url: str
    options: dict[str, Any]
    project_id: str
    user_id: str
    credential_id: str
    credential_secret: str
    member: sdk.Connection
    admin: sdk.Connection
    clouds_yaml: Path
    services: dict[str, str] = field(default_factory=dict)

    @classmethod
    def make(cls, clouds_yaml: str, tmp_path: Path, machines: int) -> BenchProject:
        clouds = yaml.safe_load(Path(clouds_yaml).read_text())["clouds"]
        entry = clouds[os.environ.get("ATRIUM_TEST_OPENSTACK_ADMIN_CLOUD", "admin")]
        admin = password_connection(entry)
        identity: Any = admin.identity
        domain = identity.find_domain(entry["auth"].get("project_domain_name", "Default"), ignore_missing=False)
        project = identity.find_project(PROJECT, domain_id=domain.id) or identity.create_project(
            name=PROJECT, domain_id=domain.id, description="Atrium's benchmark (tests/perf/bench_openstack.py)"
        )
        password = secrets.token_urlsafe(18)
        user = identity.find_user(PROJECT, domain_id=domain.id)
        if user is None:
            user = identity.create_user(name=PROJECT, domain_id=domain.id, password=password)
        else:
            identity.update_user(user, password=password)
        identity.assign_project_role_to_user(project, user, identity.find_role("member", ignore_missing=False))
        admin.compute.update_quota_set(
            project.id, instances=machines + 10, cores=2 * machines + 20, ram=1024 * (machines + 10)
        )
        # Machines with the default rules share one security group (apps/clouds/openstack/network.py);
        # raised all the same, as the docs say, for machines whose rules change.
        admin.network.update_quota(
            project.id, ports=2 * machines + 20, security_groups=machines + 10, security_group_rules=10 * machines + 100
        )

        options = {"region_name": entry.get("region_name"), "interface": entry.get("interface", "public")}
        auth_url = entry["auth"]["auth_url"]
        member = sdk.connect(
            auth_url=auth_url,
            project_id=project.id,
            credentials={"username": PROJECT, "password": password, "user_domain_name": domain.name},
            options=options,
        )
        member_identity: Any = member.identity  # typed as v2 | v3; the rig speaks v3
        credential = member_identity.create_application_credential(
            user=user.id, name=f"atrium-bench-{uuid.uuid4().hex[:8]}"
        )
        path = tmp_path / "bench-clouds.yaml"
        path.write_text(
            yaml.safe_dump(
                {
                    "clouds": {
                        PROJECT: {
                            "auth_type": "v3applicationcredential",
                            "auth": {
                                "auth_url": auth_url,
                                "application_credential_id": credential.id,
                                "application_credential_secret": credential.secret,
                            },
                            **{k: v for k, v in options.items() if v},
                        }
                    }
                }
            )
        )
        bench = cls(
            auth_url=auth_url,
            options=options,
            project_id=project.id,
            user_id=user.id,
            credential_id=credential.id,
            credential_secret=credential.secret,
            member=member,
            admin=admin,
            clouds_yaml=path,
        )
        bench.services = bench._service_names()
        bench.delete_servers("left by an earlier run")
        return bench

    def _service_names(self) -> dict[str, str]:
        """host:port → service type, from the catalogue (to name the HTTP calls)."""
        names = {urlsplit(self.auth_url).netloc: "keystone"}
        catalog = self.member.config.get_service_catalog()
        for entry in catalog.catalog if catalog else []:
            for endpoint in entry.get("endpoints", []):
                names.setdefault(urlsplit(endpoint["url"]).netloc, str(entry.get("name") or entry.get("type")))
        return names

    def connection(self, microversion: str = "") -> sdk.Connection:
        """A plain openstacksdk connection with the run's application credential."""
        return sdk.connect(
            auth_url=self.auth_url,
            project_id="",
            credentials={
                "application_credential_id": self.credential_id,
                "application_credential_secret": self.credential_secret,
            },
            options={**self.options, "compute_microversion": microversion},
        )

    def servers(self) -> list[Any]:
        return list(self.admin.compute.servers(details=True, all_projects=True, project_id=self.project_id))

    def delete_servers(self, why: str, timeout: float = 300) -> int:
        """The safety net: delete every server of the project directly and wait until they are gone."""
        left = self.servers()
        for server in left:
            self.admin.compute.delete_server(server.id, ignore_missing=True)
        deadline = time.monotonic() + timeout
        while left and self.servers() and time.monotonic() < deadline:
            time.sleep(1)
        if left:
            print(f"  deleted {len(left)} servers directly ({why})")
        return len(left)

    def close(self) -> None:
        identity: Any = self.member.identity
        identity.delete_application_credential(self.user_id, self.credential_id, ignore_missing=True)


# --- Atrium's processes ---------------------------------------------------------------------------


WORKER_ENV = {
    # Production's defaults (tests/workers.py sets fast ones for the jobs tests).
    "ATRIUM_MACHINE_POLL_INTERVAL": POLL_INTERVAL,
    "ATRIUM_JOB_HEARTBEAT_INTERVAL": "1",
    "ATRIUM_WORKER_HEARTBEAT_INTERVAL": "5",
    "ATRIUM_WORKER_HEARTBEAT_TIMEOUT": "30",
}


# --- the benchmark ----------------------------------------------------------------------------------


@dataclass
class Built:
    name: str
    requested: datetime  # just before the POST
    answered: float = 0.0  # seconds the POST took
    pk: int = 0
    row_active: datetime | None = None  # first seen ACTIVE and idle in Atrium's row
    job_started: datetime | None = None
    cloud_id: str = ""
    nova_accepted: datetime | None = None  # the create action's start_time
    nova_active: datetime | None = None  # launched_at
    nova_created: datetime | None = None  # created_at (whole seconds in the API)


class RowWatcher(threading.Thread):
    """Polls Atrium's database every 0.1 s, from the first request on, for rows that show
    ACTIVE as the list does (status ACTIVE, no task), and notes when it first saw each."""

    def __init__(self) -> None:
        super().__init__(name="row-watcher", daemon=True)
        self.pending: dict[int, Built] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.failure = ""

    def add(self, built: Built) -> None:
        with self.lock:
            self.pending[built.pk] = built

    def run(self) -> None:
        try:
            while not self.stopping.wait(0.1):
                with self.lock:
                    pks = list(self.pending)
                if not pks:
                    continue
                rows = list(Machine.objects.filter(pk__in=pks).values_list("pk", "status", "task", "fault"))
                seen = datetime.now(UTC)  # after the answer: never earlier than the commit
                with self.lock:
                    for pk, status, task, fault in rows:
                        if status == "ACTIVE" and not task:
                            self.pending.pop(pk).row_active = seen
                        elif status == "ERROR" and not task:
                            self.failure = f"{self.pending[pk].name} failed: {fault}"
                failed = Job.objects.filter(target_id__in=[str(pk) for pk in pks], state=Job.State.FAILED).first()
                if failed:
                    self.failure = f"Job {failed.pk} ({failed.target_repr}) failed: {failed.error}"
        finally:
            connection.close()  # this thread's own connection

    def wait_all(self, logs: Path) -> None:
        deadline = time.monotonic() + BUILD_DEADLINE
        while True:
            with self.lock:
                left = len(self.pending)
            if self.failure:
                pytest.fail(self.failure)
            if not left:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"{left} machines not ACTIVE within {BUILD_DEADLINE} s; worker logs in {logs}")
            time.sleep(0.2)

    def stop(self) -> None:
        self.stopping.set()
        self.join()


def nova_timeline(conn: sdk.Connection, built: list[Built]) -> None:
    for b in built:
        server = conn.compute.get_server(b.cloud_id)
        b.nova_active = nova_time(server.launched_at)
        b.nova_created = nova_time(server.created_at)
        for action in conn.compute.server_actions(server):
            if action.action == "create":
                b.nova_accepted = nova_time(action.start_time)


def measure(call: Callable[[], Any], rounds: int = LIST_ROUNDS) -> list[float]:
    call()  # warm up (tokens, version discovery, connections)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return times


@pytest.mark.django_db(transaction=True)
def test_fifty_machines_on_openstack(tmp_path, settings):
    settings.ATRIUM_MACHINE_POLL_INTERVAL = float(POLL_INTERVAL)  # for the one job run in this process
    bench = BenchProject.make(CLOUDS_YAML, tmp_path, MACHINES)
    try:
        run(bench, tmp_path)
    finally:
        with contextlib.suppress(Exception):
            bench.delete_servers("the safety net")
        bench.close()


def run(bench: BenchProject, tmp_path: Path) -> None:
    call_command(
        "cloud_register", "Bench OpenStack", clouds_yaml=str(bench.clouds_yaml), cloud=PROJECT, without_credentials=True
    )
    call_command(
        "tenancy_register",
        "Bench",
        cloud="Bench OpenStack",
        project_id=bench.project_id,
        credentials_from=str(bench.clouds_yaml),
        credentials_cloud=PROJECT,
    )
    tenancy = Tenancy.objects.select_related("cloud").get(name="Bench")
    # The project's network, subnet and router, made by Atrium's driver once (Atrium would
    # make them in the first create job; done here so concurrent first jobs do not race for it).
    network = driver_for_tenancy(tenancy).tenant_network()
    user = UserFactory(username="bench-scientist")
    MembershipFactory(user=user, tenancy=tenancy)
    _, token = api_token_create(user=user, name="bench")
    api = requests.Session()
    api.headers["Authorization"] = f"Token {token}"
    base = f"api/v1/tenancies/{tenancy.pk}/"

    print(
        f"\nOpenStack benchmark: {MACHINES} machines in project {PROJECT} ({bench.auth_url}), network {network.name}, "
        f"{WORKERS} workers, ATRIUM_MACHINE_POLL_INTERVAL={POLL_INTERVAL} s, database {connection.vendor}"
    )
    built: list[Built] = []
    with web_server(
        tmp_path, base_env(DATABASE_URL=worker_database_url(), ATRIUM_VAR_DIR=str(tmp_path)), access_log=False
    ) as url:
        try:
            with workers(tmp_path, count=WORKERS, env=WORKER_ENV):
                images = api.get(f"{url}{base}images/", timeout=60).json()["results"]
                sizes = api.get(f"{url}{base}sizes/", timeout=60).json()["results"]
                image = next((i for i in images if "cirros" in i["name"].lower()), images[0])
                fitting = [
                    s for s in sizes if s["disk_gb"] >= image["min_disk_gb"] and s["ram_mb"] >= image["min_ram_mb"]
                ]
                size = min(fitting, key=lambda s: (s["cpus"], s["ram_mb"], s["disk_gb"]))
                print(f"  image {image['name']}, size {size['name']}")
                watcher = RowWatcher()
                watcher.start()
                try:
                    for number in range(1, MACHINES + 1):
                        b = Built(name=f"bench-{number:03d}", requested=datetime.now(UTC))
                        start = time.perf_counter()
                        response = api.post(
                            f"{url}{base}machines/",
                            json={"name": b.name, "image_id": image["id"], "size_id": size["id"]},
                            timeout=60,
                        )
                        b.answered = time.perf_counter() - start
                        assert response.status_code == 202, response.text
                        b.pk = response.json()["machine"]["id"]
                        built.append(b)
                        watcher.add(b)
                    watcher.wait_all(tmp_path)
                finally:
                    watcher.stop()
            report_builds(bench, built)
            report_tasks()
            report_lists(bench, tenancy, user, api, url + base)
            report_syncs(bench, tenancy, user)
            report_one_create(bench, tenancy, user, image["id"], size["id"])
        finally:
            delete_through_atrium(api, url + base, tenancy, tmp_path)


def report_builds(bench: BenchProject, built: list[Built]) -> None:
    for b in built:
        machine = Machine.objects.get(pk=b.pk)
        b.cloud_id = machine.cloud_id
        job = Job.objects.filter(kind="machines.create", target_id=str(b.pk)).latest("pk")
        b.job_started = job.started_at
    nova_timeline(bench.admin, built)

    def each(fn: Callable[[Built], float | None]) -> list[float]:
        return [v for v in (fn(b) for b in built) if v is not None]

    spread = seconds(max(b.requested for b in built), min(b.requested for b in built))
    print(f"\nCreate → ACTIVE, per machine ({len(built)} POSTs one after another over {spread:.1f} s), seconds:")
    print(f"  {'':<58}{'p50':>9}{'p95':>9}{'max':>9}")
    steps = [
        ("POST machines/ answered (202; no cloud call)", each(lambda b: b.answered)),
        (
            "request → a worker starts the create job (POST + queue)",
            each(lambda b: seconds(b.job_started, b.requested)),
        ),
        (
            "job started → Nova accepts the create (Atrium's calls)",
            each(lambda b: seconds(b.nova_accepted, b.job_started)),
        ),
        (
            "Nova: create accepted → ACTIVE (its own timestamps)",
            each(lambda b: seconds(b.nova_active, b.nova_accepted)),
        ),
        ("Nova ACTIVE → Atrium's row shows ACTIVE (job polling)", each(lambda b: seconds(b.row_active, b.nova_active))),
        ("request → ACTIVE in Nova", each(lambda b: seconds(b.nova_active, b.requested))),
        ("request → ACTIVE in Atrium (what the user sees)", each(lambda b: seconds(b.row_active, b.requested))),
    ]
    for label, values in steps:
        print(row(label, values, digits=2))
    print(
        "  Nova's times: the create action's start_time (nova-api took the request) and launched_at (the\n"
        "  compute host marked it ACTIVE), both with microseconds, same clock as Atrium's (one machine).\n"
        "  Atrium's: the POST's start, the job's started_at, and this benchmark's 0.1 s poll of the rows\n"
        "  (from the first POST on, in a thread of its own)."
    )


def report_tasks() -> None:
    """Where the workers' time went during the builds: each task the backend ran (runs of jobs,
    looks included; rounds of the tenancy's cloud watcher), how long it held a worker, and what
    it ended with."""
    from django_tasks_db.models import DBTaskResult

    print("\nTasks the workers ran meanwhile (database backend):")
    for path in sorted(set(DBTaskResult.objects.values_list("task_path", flat=True))):
        tasks = DBTaskResult.objects.filter(task_path=path, finished_at__isnull=False)
        busy = [seconds(t.finished_at, t.started_at) or 0.0 for t in tasks]
        said = [str(t.return_value) for t in tasks]
        outcomes = Counter(text.split(":")[0].split(" ")[0] for text in said)
        woken = sum(int(text.split()[1]) for text in said if text.startswith("woke "))
        print(
            f"  {path.rsplit('.', 1)[-1]:<12} {len(busy):>5} runs, {sum(busy):7.1f} s of workers' time"
            f" (p50 {statistics.median(busy) if busy else 0:.2f} s, max {max(busy, default=0):.2f} s);"
            f" ended: {dict(outcomes.most_common(6))}" + (f", jobs woken: {woken}" if woken else "")
        )


def report_lists(bench: BenchProject, tenancy: Tenancy, user: Any, api: requests.Session, list_url: str) -> None:
    count = api.get(list_url + "machines/", timeout=60).json()["count"]
    client = Client()
    client.force_login(user)
    path = f"/api/v1/tenancies/{tenancy.pk}/machines/"
    with CaptureQueriesContext(connection) as queries, http_calls() as calls:
        assert client.get(path).status_code == 200
    per_request = len(queries)  # now: the next request empties the query log this reads
    default = bench.connection()
    pinned = bench.connection(PINNED_MICROVERSION)
    driver = driver_for_tenancy(tenancy)
    with http_calls() as seen:
        list(default.compute.servers(details=True))
    microversion = next((c.microversion for c in seen if "/servers/detail" in c.url), "?")

    def servers(conn: sdk.Connection) -> Callable[[], Any]:
        return lambda: list(conn.compute.servers(details=True))

    figures = [
        ("Atrium API over HTTP (uvicorn, token)", measure(lambda: api.get(list_url + "machines/", timeout=60))),
        ("Atrium API in-process (test client: server time)", measure(lambda: client.get(path))),
        (f"openstacksdk servers(details=True), {microversion}", measure(servers(default))),
        (f"openstacksdk servers(details=True), compute {PINNED_MICROVERSION}", measure(servers(pinned))),
        ("Atrium's driver.machines() (what the sync reads)", measure(driver.machines)),
    ]
    print(f"\nListing the {count} machines, {LIST_ROUNDS} requests each, ms:")
    print(f"  {'':<58}{'p50':>9}{'p95':>9}{'max':>9}")
    for label, times in figures:
        print(row(label, times))
    atrium, nova = statistics.median(figures[0][1]), statistics.median(figures[2][1])
    print(
        f"  ratio (p50): Atrium's API / direct Nova list = {atrium / nova:.3f} (the Nova list takes"
        f" {nova / atrium:.0f} times as long); in-process: {statistics.median(figures[1][1]) / nova:.3f}"
    )
    print(f"  Atrium API: {per_request} database queries and {len(calls)} cloud calls per request (page of 50)")


def report_syncs(bench: BenchProject, tenancy: Tenancy, user: Any) -> None:
    print(f"\nTenancy sync of {MACHINES} servers (in this process, workers stopped), {SYNC_ROUNDS} rounds each:")
    for microversion in ["", PINNED_MICROVERSION]:
        Cloud.objects.filter(pk=tenancy.cloud_id).update(
            options={**(tenancy.cloud.options or {}), "compute_microversion": microversion}
        )
        for round_ in range(1, SYNC_ROUNDS + 1):
            job = tenancy_sync_start(tenancy=tenancy, requested_by=user)
            with (
                CaptureQueriesContext(connection) as queries,
                http_calls() as calls,
                timed(machines_sync, "machine_observe") as observes,
                timed(resource_services, "resource_changed_publish") as publishes,
            ):
                start = time.perf_counter()
                job_run(job.pk)
                elapsed = time.perf_counter() - start
            job.refresh_from_db()
            assert job.state == Job.State.SUCCEEDED, job.error
            stages = ", ".join(
                f"{s.name} {(s.finished_at - s.started_at).total_seconds():.2f} s"
                for s in JobStage.objects.filter(job=job).order_by("position")
                if s.started_at and s.finished_at
            )
            versions = sorted({c.microversion for c in calls if c.microversion})
            print(
                f"  compute {microversion or 'default'} #{round_}: {elapsed:.2f} s (stages: {stages}); "
                f"{len(queries)} queries; HTTP {len(calls)}: {by_service(calls, bench.services)}; "
                f"machine_observe x{len(observes)} {sum(observes):.2f} s, live-page events x{len(publishes)} "
                f"{sum(publishes):.2f} s"
                + (f"; microversions {', '.join(versions)}" if versions and round_ == 1 else "")
            )
    Cloud.objects.filter(pk=tenancy.cloud_id).update(
        options={**(tenancy.cloud.options or {}), "compute_microversion": ""}
    )


def report_one_create(bench: BenchProject, tenancy: Tenancy, user: Any, image_id: str, size_id: str) -> None:
    """One more machine, its request and job run in this process, to count what they ask the cloud."""
    client = Client()
    client.force_login(user)
    with CaptureQueriesContext(connection) as queries, http_calls() as post_calls:
        start = time.perf_counter()
        response = client.post(
            f"/api/v1/tenancies/{tenancy.pk}/machines/",
            {"name": "bench-probe", "image_id": image_id, "size_id": size_id},
            content_type="application/json",
        )
        post_seconds = time.perf_counter() - start
    post_queries = len(queries)
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    with CaptureQueriesContext(connection) as queries, http_calls() as job_calls:
        start = time.perf_counter()
        job_run(job.pk)
        job_seconds = time.perf_counter() - start
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED, job.error
    print(
        f"\nOne more create, run in this process (its connection already has a token), with {MACHINES} servers "
        f"in the project:\n  POST machines/: {post_seconds:.2f} s, {post_queries} queries, HTTP "
        f"{len(post_calls)}: {by_service(post_calls, bench.services)}\n  its job: {job_seconds:.2f} s, "
        f"{len(queries)} queries, HTTP {len(job_calls)}: {by_service(job_calls, bench.services)}"
    )
    print(f"  the job's calls: {paths(job_calls)}")


def delete_through_atrium(api: requests.Session, list_url: str, tenancy: Tenancy, tmp_path: Path) -> None:
    rows = list(Machine.objects.filter(tenancy=tenancy).values_list("pk", flat=True))
    if not rows:
        return
    try:
        with workers(tmp_path, count=WORKERS, env=WORKER_ENV):
            start = time.perf_counter()
            refused = []
            for pk in rows:
                response = api.delete(f"{list_url}machines/{pk}/", timeout=60)
                if response.status_code != 202:
                    refused.append(f"{pk}: {response.status_code}")
            answered = time.perf_counter() - start
            deadline = time.monotonic() + 600
            while Machine.objects.filter(tenancy=tenancy).exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            left = Machine.objects.filter(tenancy=tenancy).count()
        print(
            f"\nDeleted through Atrium: {len(rows)} DELETEs answered in {answered:.1f} s, rows gone after "
            f"{time.perf_counter() - start:.1f} s"
            + (f"; {left} left" if left else "")
            + (f"; refused {refused}" if refused else "")
        )
    except Exception as exc:  # noqa: BLE001 - the safety net deletes what is left; say why here
        print(f"\nDeleting through Atrium failed ({exc}); the safety net deletes the servers directly.")
