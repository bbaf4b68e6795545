"""A local cloud that settles at once, seeded like the demo, under the Physics tenancy."""

import pytest
from django.test import Client

from apps.accounts.services import ssh_key_add
from apps.catalogue.selectors import catalogue_get
from apps.clouds.local.seed import local_cloud_seed
from tests.factories import CloudFactory, TenancyFactory


@pytest.fixture
def cloud(db):
    cloud = CloudFactory(name="Machines cloud", options={"build_seconds": 0, "action_seconds": 0})
    local_cloud_seed(cloud, projects=["physics-project", "biology-project"])
    return cloud


@pytest.fixture
def physics(cloud):
    return TenancyFactory(name="Physics", cloud=cloud, project_id="physics-project")


@pytest.fixture
def biology(cloud):
    return TenancyFactory(name="Biology", cloud=cloud, project_id="biology-project")


@pytest.fixture
def catalogue(physics):
    return catalogue_get(tenancy=physics)


def offers(tenancy, **changes):
    """Make the tenancy's cached capabilities say `changes` (e.g. `firewall=False`), as a refresh would."""
    from dataclasses import replace

    from apps.catalogue.capabilities import capabilities_to_dict

    catalogue = catalogue_get(tenancy=tenancy)
    catalogue.capabilities_data = capabilities_to_dict(replace(catalogue.capabilities, **changes))
    catalogue.save(update_fields=["capabilities_data"])


def quota_set(tenancy, **limits):
    """Set some of the tenancy's limits on the local cloud, and read them as the next sync would
    (requests check the limits as last read: apps/catalogue/quotas.py)."""
    from apps.catalogue.services import catalogue_refresh
    from apps.clouds.local.services import local_quota_set

    local_quota_set(cloud=tenancy.cloud, project_id=tenancy.project_id, **limits)
    catalogue_refresh(tenancy=tenancy)


def by_name(entries, name):
    return next(entry["id"] for entry in entries if entry["name"] == name)


@pytest.fixture
def ubuntu(catalogue):
    return by_name(catalogue.images, "Ubuntu 24.04 LTS")


@pytest.fixture
def small(catalogue):
    return by_name(catalogue.sizes, "small")


@pytest.fixture
def ssh_key(physicist):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    public = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return ssh_key_add(user=physicist, name="laptop", public_key=public)


@pytest.fixture
def physicist_client(physicist) -> Client:
    client = Client()
    client.force_login(physicist)
    return client


@pytest.fixture
def machine(physics, physicist, ubuntu, small):
    """A machine Atrium made, active, with the firewall rules its create job stored."""
    from apps.jobs.models import Job
    from apps.jobs.runner import job_run
    from apps.machines.services import machine_create

    machine = machine_create(tenancy=physics, user=physicist, name="web", image_id=ubuntu, size_id=small).row
    job_run(Job.objects.latest("pk").pk)
    machine.refresh_from_db()
    assert (machine.status, machine.has_firewall) == ("ACTIVE", True)
    return machine


@pytest.fixture
def volume(physics, physicist):
    """An available 20 GB volume called data-1."""
    from apps.machines.services import volume_create

    from .test_services import run_latest

    volume = volume_create(tenancy=physics, user=physicist, name="data-1", size_gb=20).row
    run_latest(volume)
    volume.refresh_from_db()
    return volume
