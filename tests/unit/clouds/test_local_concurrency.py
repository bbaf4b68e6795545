"""Several workers share the local cloud: its quota check holds under real
concurrency (threads with their own PostgreSQL connections), and racing first
boots share one project network. SQLite takes one writer at a time, so there
is no race to test there."""

import threading

import pytest
from django.db import connection, connections

from apps.clouds import errors
from apps.clouds.local.seed import local_cloud_seed
from apps.clouds.local.services import local_quota_set
from apps.clouds.registry import driver_for_tenancy
from apps.tenancies.models import Cloud, Tenancy
from tests.factories import CloudFactory, TenancyFactory


@pytest.mark.django_db(transaction=True)
def test_concurrent_boots_never_go_over_quota():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite has a single writer, so boots cannot race")
    cloud = CloudFactory(name="Busy local cloud", driver=Cloud.Driver.LOCAL, options={"build_seconds": 0})
    local_cloud_seed(cloud, projects=["physics"])
    tenancy = TenancyFactory(cloud=cloud, project_id="physics")
    local_quota_set(cloud=cloud, project_id="physics", machines=3)
    driver = driver_for_tenancy(tenancy)
    image = driver.images()[0].id
    size = next(s.id for s in driver.sizes() if s.name == "small")
    outcomes: list[str] = []
    start = threading.Barrier(8)

    def boot(index: int) -> None:
        try:
            worker = driver_for_tenancy(Tenancy.objects.get(pk=tenancy.pk))  # as another worker would
            start.wait()
            worker.machine_create(name=f"race-{index}", image_id=image, size_id=size)
            outcomes.append("booted")
        except errors.QuotaExceeded:
            outcomes.append("over quota")
        except Exception as exc:  # noqa: BLE001 - anything else is shown in the assertion
            outcomes.append(f"unexpected {exc!r}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=boot, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["booted"] * 3 + ["over quota"] * 5
    assert len(driver.machines()) == 3
