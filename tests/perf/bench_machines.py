"""Benchmark of the machine list: the page and the API, server time percentiles and
queries per request, for 10, 100, 1,000 and 5,000 machines in one tenancy. The lists
read the database only and page at 50 rows, so neither figure should grow much
with the number of machines (the query count must not grow at all).

Run with `make bench`; prints figures, asserts nothing about time.
"""

import statistics
import time

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.machines.models import Machine
from tests.factories import MembershipFactory, TenancyFactory, UserFactory

ROUNDS = 30
SIZES = [10, 100, 1_000, 5_000]


def measure(client: Client, path: str) -> tuple[list[float], int]:
    assert client.get(path).status_code == 200  # warm up
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        client.get(path)
        times.append((time.perf_counter() - start) * 1000)
    with CaptureQueriesContext(connection) as queries:
        client.get(path)
    return times, len(queries)


@pytest.mark.django_db
def test_machine_list_server_times():
    user = UserFactory(username="bench-machines")
    tenancy = TenancyFactory(name="Bench")
    MembershipFactory(user=user, tenancy=tenancy)
    client = Client()
    client.force_login(user)
    paths = {
        "page": reverse("machines:machine-list", args=[tenancy.pk]),
        "API": reverse("api:machine-list", kwargs={"tenancy_id": tenancy.pk}),
    }
    print(f"\n{connection.vendor}, machine lists, {ROUNDS} requests each (50 rows a page):")
    print(f"  {'machines':>8}  {'list':<5}{'p50 ms':>8}{'p95 ms':>8}{'max ms':>8}{'queries':>9}")
    made = 0
    for size in SIZES:
        Machine.objects.bulk_create(
            Machine(
                tenancy=tenancy,
                name=f"bench-{i:05d}",
                cloud_id=f"server-{i}",
                status="ACTIVE" if i % 7 else "STOPPED",
                image_id="img",
                image_name="Ubuntu 24.04 LTS",
                size_id="small",
                size_name="small",
                cpus=1,
                ram_mb=2048,
                disk_gb=20,
                internal_ip=f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
                created_by=user,
            )
            for i in range(made, size)
        )
        made = size
        for label, path in paths.items():
            times, queries = measure(client, path)
            q = statistics.quantiles(times, n=20)
            print(f"  {size:>8}  {label:<5}{statistics.median(times):>8.1f}{q[18]:>8.1f}{max(times):>8.1f}{queries:>9}")
