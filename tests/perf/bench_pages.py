"""Benchmarks of the pages and API that exist so far: server time percentiles
and queries per request, for a user in 1 and in 50 tenancies.

Run with `make bench`; prints figures, asserts nothing about time.
"""

import statistics
import time

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.jobs.models import WorkerHeartbeat
from tests.factories import MembershipFactory, TenancyFactory, UserFactory

ROUNDS = 50
PATHS = ["/", "/accounts/me/", "/api/v1/tenancies/", "/healthz"]


def measure(client: Client, path: str) -> tuple[list[float], int]:
    client.get(path)  # warm up
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        client.get(path)
        times.append((time.perf_counter() - start) * 1000)
    with CaptureQueriesContext(connection) as queries:
        client.get(path)
    return times, len(queries)


@pytest.mark.django_db
@pytest.mark.parametrize("tenancies", [1, 50])
def test_page_server_times(tenancies):
    user = UserFactory(username=f"bench{tenancies}")
    for _ in range(tenancies):
        MembershipFactory(user=user, tenancy=TenancyFactory())
    WorkerHeartbeat.objects.create(worker_id=f"bench{tenancies}", hostname="bench", pid=1, backend="database")
    client = Client()
    client.force_login(user)
    print(f"\n{connection.vendor}, {tenancies} tenancies, {ROUNDS} requests each:")
    print(f"  {'path':<22}{'p50 ms':>8}{'p95 ms':>8}{'max ms':>8}{'queries':>9}")
    for path in PATHS:
        times, queries = measure(client, path)
        q = statistics.quantiles(times, n=20)
        print(f"  {path:<22}{statistics.median(times):>8.1f}{q[18]:>8.1f}{max(times):>8.1f}{queries:>9}")
