"""How many times a plain machine create job (no SSH key, no external IP) asks the cloud, counted
on every cloud of the contract suite: on OpenStack each HTTP request through keystoneauth's session
(what the SDK sends), on the local cloud each driver operation. The tenancy's network and shared
firewall are known (an earlier create kept them in the catalogue), as they are for every create
but a tenancy's first.

The calls left (apps/clouds/openstack/driver.py): POST servers (the create, with the cached
network and shared security group), then one GET of the server per look while it builds (the
wait, whose looks its own stage paces). The firewall's rules are the shared one's, kept in the
catalogue: no read."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
from keystoneauth1 import session as ksa_session

from apps.catalogue.selectors import firewall_shared_cached, network_cached
from apps.clouds.local import base as local_base
from apps.clouds.local.faults import fault_raise
from apps.jobs.models import Job
from apps.machines.models import Machine
from tests.contract.conftest import CloudUnderTest
from tests.factories import UserFactory

#: At most this many calls besides the looks at the building server (the issue asks for 5 in all).
MOST = 5
UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}|[0-9a-f]{32}")


@pytest.fixture
def calls(cut: CloudUnderTest, monkeypatch) -> list[str]:
    """Every cloud call made while the list is open, as `METHOD /path` (ids as {id}) or the operation."""
    made: list[str] = []
    request = ksa_session.Session.request

    def counted(self: Any, url: str, method: str, *args: Any, **kwargs: Any) -> Any:
        path = re.sub(r"^https?://[^/]+", "", url).split("?")[0]
        made.append(f"{method} {UUID.sub('{id}', path)}")
        return request(self, url, method, *args, **kwargs)

    def operation(*, operation: str, **kwargs: Any) -> None:
        made.append(operation)
        fault_raise(operation=operation, **kwargs)

    monkeypatch.setattr(ksa_session.Session, "request", counted)
    monkeypatch.setattr(local_base, "fault_raise", operation)
    return made


def test_a_plain_create_job_asks_the_cloud_at_most_five_times_besides_its_looks(
    cut: CloudUnderTest, calls: list[str], settings
):
    settings.ATRIUM_MACHINE_POLL_INTERVAL = 0.5 if cut.wait_seconds > 10 else 0.05
    scientist = UserFactory(username="contract-counter")
    cut.tenancy.memberships.create(user=scientist)

    def create(name: str) -> Machine:
        machine, job = cut.machine_made(scientist, name)
        assert job.state == Job.State.SUCCEEDED, job.error
        return machine

    create("calls-first")  # a tenancy's first create finds (or makes) its network and shared firewall
    assert network_cached(tenancy=cut.tenancy)
    firewall = cut.driver.capabilities().firewall
    assert (firewall_shared_cached(tenancy=cut.tenancy) is not None) == firewall

    calls.clear()
    machine = create("calls-second")
    assert machine.status == "ACTIVE"
    assert machine.has_firewall is (True if firewall else None)
    looks = [c for c in calls if c == "machine_get" or re.fullmatch(r"GET (.*/)?servers/\{id\}", c)]
    others = [c for c in calls if c not in looks]
    print(f"\n{cut.driver.__class__.__name__}: {len(calls)} calls: {len(looks)} looks, then {Counter(others)}")
    assert len(others) <= MOST, Counter(others)
    assert looks, "the job looked at the server while it built"
