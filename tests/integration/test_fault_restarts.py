"""The fault run, part two: PostgreSQL and Redis restarted under a running job.

A worker on a PostgreSQL and a Redis of the test's own (tests/private_services.py; the
machine's shared ones are never touched), with the RQ backend (so Redis carries the jobs as
well as the live-page events), builds a machine on the local cloud. While the job waits
for the build, both are restarted: the job must still end, the machine be active and
usable, and the same worker take the next job.
"""

import json

import psycopg
import pytest
from django.db import connection

from tests.private_services import postgres_bin, private_postgres, private_redis
from tests.servers import base_env, manage
from tests.workers import start_worker, stop, wait_for

pytestmark = [pytest.mark.slow]

SEED = """
import json
from apps.accounts.models import User
from apps.clouds.local.seed import local_cloud_seed
from apps.machines import services
from apps.catalogue.selectors import catalogue_get
from apps.tenancies.models import Cloud, Membership, Tenancy
cloud = Cloud.objects.create(name="Local", driver="local", options={"build_seconds": 6, "action_seconds": 2})
local_cloud_seed(cloud, projects=["physics"])
tenancy = Tenancy.objects.create(name="Physics", cloud=cloud, project_id="physics")
user = User.objects.create(username="physicist")
Membership.objects.create(user=user, tenancy=tenancy, role="member")
catalogue = catalogue_get(tenancy=tenancy)
image = next(i["id"] for i in catalogue.images if i["name"] == "Ubuntu 24.04 LTS")
size = next(s["id"] for s in catalogue.sizes if s["name"] == "small")
machine = services.machine_create(tenancy=tenancy, user=user, name="survivor", image_id=image, size_id=size).row
print(json.dumps({"machine": machine.pk}))
"""

STOP = """
from apps.accounts.models import User
from apps.machines import services
from apps.machines.models import Machine
services.machine_action(machine=Machine.objects.get(), user=User.objects.get(), action="stop")
"""


@pytest.fixture
def postgresql_run():
    if connection.vendor != "postgresql":
        pytest.skip("restarting PostgreSQL under a job is tested in the PostgreSQL run")
    if postgres_bin() is None:
        pytest.skip("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin")


def shell(code: str, env: dict[str, str]) -> str:
    return manage("shell", "-c", code, env=env)


def row(database_url: str, sql: str) -> tuple:
    """One row read straight from the private database (a fresh connection each time)."""
    try:
        with psycopg.connect(database_url.replace("postgres://", "postgresql://"), connect_timeout=3) as conn:
            return conn.execute(sql).fetchone() or ()
    except psycopg.OperationalError:
        return ()  # restarting


def test_a_job_ends_cleanly_when_postgresql_and_redis_restart_under_it(tmp_path, postgresql_run):
    with private_postgres() as postgres, private_redis() as redis_server:
        env = {
            "DATABASE_URL": postgres.url,
            "REDIS_URL": redis_server.url,
            "TASK_BACKEND": "rq",
            "ATRIUM_MACHINE_POLL_INTERVAL": "0.2",
        }
        setup = base_env(**env, ATRIUM_JOB_MODULES="tests.jobkinds", ATRIUM_VAR_DIR=str(tmp_path))
        manage("migrate", "--noinput", env=setup)
        machine = json.loads(shell(SEED, setup).strip().splitlines()[-1])["machine"]

        def job(kind: str) -> tuple:
            return row(postgres.url, f"SELECT state, error FROM jobs_job WHERE kind = '{kind}' ORDER BY id DESC")  # noqa: S608

        def machine_row() -> tuple:
            return row(postgres.url, f"SELECT status, task FROM machines_machine WHERE id = {machine}")  # noqa: S608

        def building() -> bool:
            stage = "SELECT s.state FROM jobs_jobstage s JOIN jobs_job j ON j.id = s.job_id"
            return row(postgres.url, f"{stage} WHERE j.kind = 'machines.create' AND s.name = 'Wait until active'") == (
                "running",
            )

        worker = start_worker(tmp_path, "survivor", **env)
        try:
            wait_for(building, "the build to be under way", timeout=60, logs=tmp_path)
            postgres.restart()
            redis_server.restart()
            wait_for(
                lambda: job("machines.create")[:1] in {("succeeded",), ("failed",), ("cancelled",)},
                "the create to end",
                timeout=60,
                logs=tmp_path,
            )
            state, error = job("machines.create")
            assert (state, error) == ("succeeded", ""), (error, (tmp_path / "survivor.log").read_text())
            assert machine_row() == ("ACTIVE", "")
            # The same worker, after both restarts, takes the next job.
            shell(STOP, setup)
            wait_for(lambda: job("machines.stop")[:1] == ("succeeded",), "the stop", timeout=60, logs=tmp_path)
            assert machine_row() == ("STOPPED", "")
            assert worker.poll() is None
        finally:
            stop(worker)
