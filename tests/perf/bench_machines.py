"""Benchmark of the machine list: the page and the API, server time percentiles and
queries per request.

- One full page (50 rows) of a tenancy's machines as they come in use (some building,
  stopped, failed, made outside Atrium, with an external IP), many requests: the figures
  issue 14 set (in the embedded mode, SQLite: the page p50 under 30 ms, the API under 15 ms).
- 10, 100, 1,000 and 5,000 machines in one tenancy: the lists read the database only and
  page at 50 rows, so neither figure should grow much with the number of machines (the
  query count must not grow at all).

Run with `make bench`; prints figures, asserts nothing about time.
"""

import gc
import statistics
import time
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.machines.models import ExternalIp, Machine
from tests.factories import MembershipFactory, TenancyFactory, UserFactory

ROUNDS = 30
PAGE_ROUNDS = 200
SIZES = [10, 100, 1_000, 5_000]


def measure(client: Client, path: str, rounds: int = ROUNDS) -> tuple[list[float], int]:
    assert client.get(path).status_code == 200  # warm up
    gc.collect()  # start each series from a clean heap, not the previous series' garbage
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        client.get(path)
        times.append((time.perf_counter() - start) * 1000)
    with CaptureQueriesContext(connection) as queries:
        client.get(path)
    return times, len(queries)


def machine(tenancy, user, i: int, **fields) -> Machine:
    return Machine(
        **{
            "tenancy": tenancy,
            "name": f"bench-{i:05d}",
            "cloud_id": f"server-{i}",
            "status": "ACTIVE" if i % 7 else "STOPPED",
            "image_id": "img",
            "image_name": "Ubuntu 24.04 LTS",
            "size_id": "small",
            "size_name": "small",
            "cpus": 1,
            "ram_mb": 2048,
            "disk_gb": 20,
            "internal_ip": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
            "created_by": user,
            **fields,
        }
    )


def lists(tenancy) -> dict[str, str]:
    return {
        "page": reverse("machines:machine-list", args=[tenancy.pk]),
        "API": reverse("api:machine-list", kwargs={"tenancy_id": tenancy.pk}),
    }


def signed_in(username: str):
    user = UserFactory(username=username)
    tenancy = TenancyFactory(name="Bench")
    MembershipFactory(user=user, tenancy=tenancy)
    client = Client()
    client.force_login(user)
    return user, tenancy, client


@pytest.mark.django_db
def test_machine_list_one_page():
    """The figures to reach: one page of 50 machines in the mix a tenancy has."""
    user, tenancy, client = signed_in("bench-page")
    mix = []
    for i in range(50):
        fields: dict[str, Any] = {}
        if i % 10 == 3:
            fields = {"status": "BUILD", "task": "building", "cloud_id": ""}
        elif i % 10 == 6:
            fields = {"status": "ERROR", "fault": "No valid host was found."}
        elif i % 10 == 9:
            fields = {"external": True, "created_by": None}
        mix.append(machine(tenancy, user, i, **fields))
    Machine.objects.bulk_create(mix)
    ExternalIp.objects.bulk_create(
        ExternalIp(tenancy=tenancy, address=f"192.0.2.{i}", cloud_id=f"ip-{i}", machine=row)
        for i, row in enumerate(Machine.objects.filter(tenancy=tenancy, status="ACTIVE")[:10])
    )
    print(f"\n{connection.vendor}, one page of 50 machines, {PAGE_ROUNDS} requests each:")
    print(f"  {'list':<5}{'p50 ms':>8}{'p95 ms':>8}{'max ms':>8}{'queries':>9}")
    for label, path in lists(tenancy).items():
        times, queries = measure(client, path, PAGE_ROUNDS)
        q = statistics.quantiles(times, n=20)
        print(f"  {label:<5}{statistics.median(times):>8.1f}{q[18]:>8.1f}{max(times):>8.1f}{queries:>9}")


@pytest.mark.django_db
def test_machine_list_server_times():
    user, tenancy, client = signed_in("bench-machines")
    print(f"\n{connection.vendor}, machine lists, {ROUNDS} requests each (50 rows a page):")
    print(f"  {'machines':>8}  {'list':<5}{'p50 ms':>8}{'p95 ms':>8}{'max ms':>8}{'queries':>9}")
    made = 0
    for size in SIZES:
        Machine.objects.bulk_create(machine(tenancy, user, i) for i in range(made, size))
        made = size
        for label, path in lists(tenancy).items():
            times, queries = measure(client, path)
            q = statistics.quantiles(times, n=20)
            print(f"  {size:>8}  {label:<5}{statistics.median(times):>8.1f}{q[18]:>8.1f}{max(times):>8.1f}{queries:>9}")
