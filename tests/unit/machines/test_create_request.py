"""A create request answers from Atrium's own data: the cached catalogue, network and quota
limits, and Atrium's rows. It asks the cloud nothing (a driver built during the request fails
the test) and makes a bounded number of queries."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.catalogue.models import Catalogue
from apps.catalogue.quotas import quotas_current
from apps.clouds import registry
from apps.clouds.registry import driver_for_tenancy
from apps.jobs.models import Job
from apps.jobs.runner import job_run
from apps.machines import services
from apps.machines.models import Machine

from .conftest import quota_set


class CloudCalled(AssertionError):
    pass


class NoCloud:
    """Stands in for every driver during a request: building one means the request asked the cloud."""

    def __init__(self, **kwargs):
        raise CloudCalled("the request asked the cloud")


@pytest.fixture
def no_cloud(monkeypatch):
    """Within the fixture's test, any driver built (for any cloud) raises CloudCalled."""

    def forbid():
        for name in list(registry.DRIVERS):
            monkeypatch.setitem(registry.DRIVERS, name, f"{__name__}.NoCloud")

    return forbid


def api_create(client, tenancy, name, image, size, **more):
    return client.post(
        f"/api/v1/tenancies/{tenancy.pk}/machines/",
        json.dumps({"name": name, "image_id": image, "size_id": size, **more}),
        content_type="application/json",
    )


def test_a_create_request_asks_the_cloud_nothing(physics, physicist_client, ubuntu, small, no_cloud):
    physicist_client.get(f"/api/v1/tenancies/{physics.pk}/")  # the session's first read is not the create's cost
    no_cloud()
    with CaptureQueriesContext(connection) as api:
        response = api_create(physicist_client, physics, "by-api", ubuntu, small, external_ip=True)
    assert response.status_code == 202, response.content
    # A query-count guard (23 today): the session, the catalogue, the rows' use (three aggregates), the row,
    # its job. Counted now: the next requests reset the connection's log.
    assert len(api) <= 25, [q["sql"] for q in api.captured_queries]
    # The form, its quota panel and its post: the same.
    form = reverse("machines:machine-create", args=[physics.pk])
    assert physicist_client.get(form).status_code == 200
    panel = physicist_client.get(reverse("machines:machine-create-quotas", args=[physics.pk]), {"size": small})
    assert 'data-quota="cpus"' in panel.content.decode()
    posted = physicist_client.post(form, {"name": "by-form", "image": ubuntu, "size": small})
    assert posted.status_code == 302
    assert set(Machine.objects.values_list("name", flat=True)) == {"by-api", "by-form"}


def test_over_the_cached_limit_is_refused_without_the_cloud(physics, physicist_client, ubuntu, small, no_cloud):
    quota_set(physics, machines=1)
    no_cloud()
    assert api_create(physicist_client, physics, "one", ubuntu, small).status_code == 202
    refused = api_create(physicist_client, physics, "two", ubuntu, small)
    assert refused.status_code == 409
    assert "machines: this needs 1, 1 of 1 are in use" in refused.json()["error"]["message"]


def test_quotas_from_rows_follow_the_cloud_through_a_machines_life(physics, physicist, ubuntu, small, catalogue):
    """Between two reads of the cloud, Atrium's rows move the figures as the cloud's own do."""
    driver = driver_for_tenancy(physics)

    def ours():
        return {q.resource: q.used for q in quotas_current(tenancy=physics) if q.resource in {"machines", "cpus"}}

    def clouds():
        return {q.resource: q.used for q in driver.quotas() if q.resource in {"machines", "cpus"}}

    assert ours() == clouds()
    machine = services.machine_create(tenancy=physics, user=physicist, name="a", image_id=ubuntu, size_id=small).row
    on_its_way = ours()
    assert on_its_way["machines"] == clouds()["machines"] + 1  # the request counts before the cloud has it
    job_run(Job.objects.latest("pk").pk)
    assert ours() == clouds() == on_its_way  # made: the cloud counts it now, and Atrium's figure has not moved
    machine.refresh_from_db()
    job_run(services.machine_delete(machine=machine, user=physicist).pk)
    assert ours() == clouds()  # deleted: both went down


def test_an_old_catalogue_is_used_and_the_sync_started(physics, physicist_client, ubuntu, small, catalogue, no_cloud):
    Catalogue.objects.filter(tenancy=physics).update(refreshed_at=timezone.now() - timedelta(days=1))
    no_cloud()
    assert api_create(physicist_client, physics, "one", ubuntu, small).status_code == 202
    assert api_create(physicist_client, physics, "two", ubuntu, small).status_code == 202
    syncs = Job.objects.filter(kind="tenancy.sync", tenancy=physics)
    assert syncs.count() == 1  # one sync on its way serves both


def test_a_tenancy_never_read_is_read_once(physics, physicist_client):
    """The one exception: a tenancy whose cloud Atrium has never read (before its first sync)."""
    assert not Catalogue.objects.filter(tenancy=physics).exists()
    driver = driver_for_tenancy(physics)
    image = next(i.id for i in driver.images() if i.name == "Ubuntu 24.04 LTS")
    size = next(s.id for s in driver.sizes() if s.name == "small")
    assert api_create(physicist_client, physics, "first", image, size).status_code == 202
    catalogue = Catalogue.objects.get(tenancy=physics)
    assert catalogue.quotas is not None
    assert {q["resource"] for q in catalogue.quotas} >= {"machines", "cpus", "ram_mb"}


def test_the_create_job_boots_on_the_cached_network_and_finds_it_again_when_gone(physics, physicist, ubuntu, small):
    services.machine_create(tenancy=physics, user=physicist, name="first", image_id=ubuntu, size_id=small)
    job_run(Job.objects.latest("pk").pk)
    network = Catalogue.objects.get(tenancy=physics).network  # the first job found the network and kept it
    assert network["id"] == driver_for_tenancy(physics).tenant_network().id

    Catalogue.objects.filter(tenancy=physics).update(network={"id": "deleted-meanwhile", "name": "old", "cidr": ""})
    machine = services.machine_create(tenancy=physics, user=physicist, name="second", image_id=ubuntu, size_id=small)
    job_run(machine.job.pk)
    machine.row.refresh_from_db()
    assert machine.row.status == "ACTIVE"
    assert Catalogue.objects.get(tenancy=physics).network["id"] == network["id"]
