"""What the fault runs check after hurting real workers (tests/integration/test_fault_run.py on
the local cloud, tests/contract/test_machines_faults.py on every driver of the contract suite)."""

import os
import signal
import subprocess
from collections.abc import Collection
from pathlib import Path

from apps.catalogue.quotas import quotas_current
from apps.clouds.registry import driver_for_tenancy
from apps.jobs.models import Job, JobLock
from apps.machines import services
from apps.machines.models import ExternalIp, Machine
from apps.tenancies.models import Tenancy
from tests.workers import wait_for


def job_of(target: Machine, kind: str) -> Job:
    return Job.objects.filter(kind=kind, target_id=str(target.pk)).latest("pk")


def log_text(job: Job) -> str:
    return "\n".join(job.log_lines.values_list("message", flat=True))


def quiet(tenancy: Tenancy) -> bool:
    return not Job.objects.filter(tenancy=tenancy, state__in=Job.ACTIVE_STATES).exists()


def kill(worker: subprocess.Popen[bytes]) -> None:
    os.kill(worker.pid, signal.SIGKILL)  # no clean stop, no chance to record anything
    worker.wait()


def assert_settled(tenancy: Tenancy, logs: Path, timeout: float = 40, others: Collection[str] = ()) -> None:
    """Nothing stuck, nothing lost, nothing leaked, once the jobs (and their follow-ups) are done:
    no job still active, no row busy or stuck between states, every row with its actions, every
    server and external IP of the project on the cloud with its row and every row with its
    server, and quotas counting only what exists. `others`: ids of what the project held on the
    cloud before the scenario (a shared real project), which no row need know."""
    wait_for(lambda: quiet(tenancy), "every job to end", timeout=timeout, logs=logs)
    assert not JobLock.objects.exists(), "a lock outlived its job"
    rows = list(Machine.objects.filter(tenancy=tenancy))
    for row in rows:
        label = f"{row.name}: task={row.task!r} status={row.status}"
        assert row.task == "", f"still busy: {label}"
        assert not row.busy, f"stuck between states: {label}"
        assert services.machine_actions(row), f"no actions: {label}"
    driver = driver_for_tenancy(tenancy)
    on_cloud = [m.id for m in driver.machines()]
    servers = set(on_cloud) - set(others)
    recorded = {row.cloud_id for row in rows if row.cloud_id}
    assert servers - recorded == set(), "a server on the cloud that no row knows (leaked)"
    assert recorded - servers == set(), "a row whose server the cloud does not have (lost)"
    if driver.capabilities().external_ips:
        addresses = {ip.id for ip in driver.external_ips()} - set(others)
        assert addresses == set(ExternalIp.objects.filter(tenancy=tenancy).values_list("cloud_id", flat=True))
    used = {q.resource: q.used for q in quotas_current(tenancy=tenancy)}
    assert used["machines"] == len(on_cloud), "the quota counts a machine that is not there"
