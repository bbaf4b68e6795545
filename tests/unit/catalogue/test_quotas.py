"""Quotas from Atrium's own data: the cloud's limits as last read, use counted from every app's
rows through the registry in apps.catalogue.quotas (no cloud call after the first read)."""

import ast
from pathlib import Path

import pytest

from apps.catalogue import quotas
from apps.catalogue.quotas import RowsUse, pending_use, quota_check, quotas_current
from apps.catalogue.services import catalogue_refresh
from apps.clouds.errors import QuotaExceeded
from apps.clouds.local.services import local_quota_set
from apps.jobs.models import Job
from apps.jobs.runner import job_run
from apps.machines.services import machine_create


def used(tenancy) -> dict[str, int]:
    return {q.resource: q.used for q in quotas_current(tenancy=tenancy)}


def test_a_machine_being_created_counts_through_the_machines_registration(physics, physicist, ubuntu, small, catalogue):
    assert any(name.startswith("apps.machines.") for name in quotas._USE)  # registered when the app is ready
    before = used(physics)
    machine = machine_create(
        tenancy=physics, user=physicist, name="on-its-way", image_id=ubuntu, size_id=small, external_ip=True
    ).row
    pending = pending_use(physics)
    assert (pending["machines"], pending["cpus"], pending["ram_mb"], pending["external_ips"]) == (
        1,
        machine.cpus,
        machine.ram_mb,
        1,
    )
    during = used(physics)
    assert during["machines"] == before["machines"] + 1
    assert during["cpus"] == before["cpus"] + machine.cpus

    job_run(Job.objects.latest("pk").pk)  # now the cloud counts it, and the registry no longer does
    assert pending_use(physics)["machines"] == 0
    assert used(physics)["machines"] == before["machines"] + 1


def test_every_registered_app_adds_its_share(physics, monkeypatch, cloud):
    local_quota_set(cloud=cloud, project_id="physics-project", volumes=5)
    catalogue_refresh(tenancy=physics)  # a limit changed on the cloud shows at the next read (the sync)
    before = used(physics)["volumes"]
    monkeypatch.setitem(quotas._USE, "tests.other_app", lambda tenancy: RowsUse(made={}, pending={"volumes": 3}))
    assert used(physics)["volumes"] == before + 3
    quota_check(tenancy=physics, wanted={"volumes": 5 - before - 3})
    with pytest.raises(QuotaExceeded, match="olumes: this needs"):
        quota_check(tenancy=physics, wanted={"volumes": 5 - before - 2})


def test_the_catalogue_app_imports_no_app_that_registers():
    root = Path(quotas.__file__).parent
    imported = set()
    for source in root.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    assert not {name for name in imported if name.startswith("apps.machines")}


def test_a_cloud_that_will_not_tell_its_quotas_still_gets_its_catalogue_kept(physics, cloud):
    from apps.clouds.local.services import local_fault_inject

    local_fault_inject(cloud=cloud, operation="quotas", kind="error", message="Forbidden here.", times=1)
    catalogue = catalogue_refresh(tenancy=physics)
    assert catalogue.images
    assert catalogue.quotas == []  # none known: requests check none, the cloud refuses what is over
    quota_check(tenancy=physics, wanted={"machines": 1000})
