"""An existing database (the catalogue in apps/machines, a row cached) migrates forward:
the old table goes, the new one is made, and the cache refills from the cloud."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from apps.catalogue.models import Catalogue
from apps.catalogue.selectors import capabilities_get
from apps.clouds.local.seed import local_cloud_seed
from apps.tenancies.models import Tenancy

OLD_MACHINES = ("machines", "0002_machine_firewall")
BEFORE = [OLD_MACHINES, ("catalogue", None)]


@pytest.fixture
def back_to_the_old_schema(transactional_db):
    """The schema before the move; the latest again afterwards, whatever the test did."""
    MigrationExecutor(connection).migrate(BEFORE)
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_a_database_with_the_old_catalogue_migrates_forward(back_to_the_old_schema):
    executor = MigrationExecutor(connection)
    old = executor.loader.project_state([OLD_MACHINES]).apps
    cloud = old.get_model("tenancies", "Cloud").objects.create(name="Old cloud", driver="local", options={})
    tenancy = old.get_model("tenancies", "Tenancy").objects.create(name="Physics", cloud=cloud, project_id="physics")
    old.get_model("machines", "Catalogue").objects.create(
        tenancy=tenancy, images=[], sizes=[], capabilities={"volumes": True}, refreshed_at=timezone.now()
    )
    assert "machines_catalogue" in connection.introspection.table_names()

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    tables = connection.introspection.table_names()
    assert "machines_catalogue" not in tables
    assert "catalogue_catalogue" in tables
    tenancy = Tenancy.objects.get(pk=tenancy.pk)
    assert not Catalogue.objects.exists()  # a cache: it refills on first need
    local_cloud_seed(tenancy.cloud, projects=["physics"])
    assert capabilities_get(tenancy=tenancy).kubernetes is True
    assert Catalogue.objects.get(tenancy=tenancy).images
