"""The contract suite runs every scenario against every driver it is given.

- `local`: always; a fresh local cloud in the test database, seeded like the
  demo, with no build or action delays.
- `openstack`: when ATRIUM_TEST_OPENSTACK_CLOUDS_YAML names a clouds.yaml with
  a `demo` cloud (a member of a project) and an `admin` cloud (to set quotas),
  e.g. the one /work/shared/peers/openstack/up.sh writes. Otherwise those cases
  skip, saying why. The cloud's names can be changed with
  ATRIUM_TEST_OPENSTACK_CLOUD / ATRIUM_TEST_OPENSTACK_ADMIN_CLOUD.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import pytest

from apps.clouds import dto
from apps.clouds.base import CloudDriver
from apps.clouds.errors import NotFound
from apps.clouds.local.seed import local_cloud_seed
from apps.clouds.local.services import local_clock_advance, local_quota_set
from apps.clouds.registry import driver_for_tenancy
from apps.tenancies.models import Cloud, Tenancy
from tests.factories import CloudFactory, TenancyFactory

CLOUDS_YAML = os.environ.get("ATRIUM_TEST_OPENSTACK_CLOUDS_YAML", "")


@dataclass
class CloudUnderTest:
    """A driver plus what a scenario needs that the interface does not give:
    a small image and size to boot, a way to set the project's quotas, and (where
    the test can reach the cloud's insides) a way to hold it."""

    driver: CloudDriver
    #: The tenancy the driver was made for (scenarios that go through the portal's jobs use it).
    tenancy: Tenancy
    image_id: str
    size_id: str
    set_machine_quota: Callable[[int], object]
    wait_seconds: float
    cleanups: list[Callable[[], Any]] = field(default_factory=list)
    #: `with cut.hold():` the cloud accepts requests but carries none out (a build stays BUILD,
    #: a stop STOPPING) until the block ends, as a slow hypervisor would; then it catches up.
    #: None where the test cannot do that to the cloud (a real cloud that is not the rig).
    hold: Callable[[], AbstractContextManager[None]] | None = None

    def wait_for(self, what: str, check: Callable[[], bool]) -> None:
        """Poll a real cloud until `check()` holds (the local cloud, with no delays, holds at once)."""
        deadline = time.monotonic() + self.wait_seconds
        while not check():
            if time.monotonic() > deadline:
                pytest.fail(f"{what}: not reached within {self.wait_seconds:.0f} s")
            time.sleep(0.5)

    def wait_status(self, machine_id: str, status: dto.MachineStatus) -> dto.Machine:
        seen: list[dto.Machine] = []

        def reached() -> bool:
            seen.append(self.driver.machine_get(machine_id=machine_id))
            return seen[-1].status == status

        self.wait_for(f"machine {machine_id} {status}", reached)
        return seen[-1]

    def wait_gone(self, machine_id: str) -> None:
        def gone() -> bool:
            try:
                self.driver.machine_get(machine_id=machine_id)
            except NotFound:
                return True
            return False

        self.wait_for(f"machine {machine_id} deleted", gone)

    def boot(self, name: str) -> dto.Machine:
        machine = self.driver.machine_create(name=name, image_id=self.image_id, size_id=self.size_id)
        self.cleanups.append(lambda: self._delete_quietly(machine.id))
        return machine

    def machine_made(self, user: Any, name: str) -> tuple[Any, Any]:
        """A machine asked for through Atrium's services and its create job run as a worker runs it:
        the row (refreshed) and the job. The server is deleted after the test."""
        from apps.machines import services
        from tests.unit.machines.test_services import run_latest

        machine = services.machine_create(
            tenancy=self.tenancy, user=user, name=name, image_id=self.image_id, size_id=self.size_id
        ).row
        job = run_latest(machine)
        machine.refresh_from_db()
        if machine.cloud_id:
            self.cleanups.append(lambda: self._delete_quietly(machine.cloud_id))
        return machine, job

    def _delete_quietly(self, machine_id: str) -> None:
        try:
            self.driver.machine_delete(machine_id=machine_id)
            self.wait_gone(machine_id)
        except NotFound:
            pass


def _local(db: Any) -> CloudUnderTest:
    cloud = CloudFactory(
        name="Contract local cloud",
        driver=Cloud.Driver.LOCAL,
        options={"build_seconds": 0, "action_seconds": 0, "cluster_seconds": 0},
    )
    local_cloud_seed(cloud, projects=["contract"])
    tenancy = TenancyFactory(name="Contract", cloud=cloud, project_id="contract")
    driver = driver_for_tenancy(tenancy)
    image = next(i for i in driver.images() if i.name == "Debian 12")
    size = next(s for s in driver.sizes() if s.name == "small")

    @contextlib.contextmanager
    def hold() -> Iterator[None]:
        # Builds and actions started meanwhile take an hour; then the clock moves that hour on.
        held = {"build_seconds": HOLD_SECONDS, "action_seconds": HOLD_SECONDS}
        Cloud.objects.filter(pk=cloud.pk).update(options={**cloud.options, **held})
        try:
            yield
        finally:
            Cloud.objects.filter(pk=cloud.pk).update(options=cloud.options)
            local_clock_advance(cloud=cloud, seconds=HOLD_SECONDS)

    return CloudUnderTest(
        driver=driver,
        tenancy=tenancy,
        image_id=image.id,
        size_id=size.id,
        set_machine_quota=lambda n: local_quota_set(cloud=cloud, project_id="contract", machines=n),
        wait_seconds=5,
        hold=hold,
    )


HOLD_SECONDS = 3600


def _openstack(db: Any) -> CloudUnderTest:
    from tests.contract.openstack_rig import openstack_cloud_under_test

    return openstack_cloud_under_test(CLOUDS_YAML)


@pytest.fixture(params=["local", "openstack"])
def cut(request: pytest.FixtureRequest, db: Any) -> Iterator[CloudUnderTest]:
    if request.param == "openstack":
        if not CLOUDS_YAML:
            pytest.skip("OpenStack contract: set ATRIUM_TEST_OPENSTACK_CLOUDS_YAML to a clouds.yaml to run it")
        under_test = _openstack(db)
    else:
        under_test = _local(db)
    yield under_test
    for cleanup in reversed(under_test.cleanups):
        cleanup()
