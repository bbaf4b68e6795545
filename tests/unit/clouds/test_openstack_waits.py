"""No wait inside the OpenStack driver that a job's cancel cannot reach: deleting a
machine waits for Nova to let go of its firewall with the `pause` it is given
(jobs give `ctx.sleep`, which raises when the job is cancelled)."""

from types import SimpleNamespace
from typing import Any

import pytest

from apps.clouds.openstack.driver import OpenStackDriver
from apps.clouds.openstack.network import FIREWALL_METADATA
from apps.clouds.target import Target


class Cancelled(Exception):
    """What a job's sleep raises once the job is cancelled."""


class NovaThatNeverLetsGo:
    """A server that is deleted but that Nova keeps finding (its firewall still in use)."""

    def __init__(self) -> None:
        self.server = SimpleNamespace(id="server-1", metadata={FIREWALL_METADATA: "group-1"})
        self.deleted: list[Any] = []
        self.groups_deleted: list[Any] = []

    def get_server(self, machine_id: str) -> Any:
        return self.server

    def delete_server(self, server: Any, ignore_missing: bool = True) -> None:
        self.deleted.append(server.id)


def _driver(nova: NovaThatNeverLetsGo) -> OpenStackDriver:
    driver = OpenStackDriver(target=Target(cloud_id=1, cloud_name="Rig", driver="openstack", project_id="p-1"))
    # The connection and the scoped project are cached properties: give them without a cloud.
    network = SimpleNamespace(
        security_groups=lambda **kw: [], ports=lambda **kw: [], delete_security_group=lambda group: None
    )
    driver.__dict__["_conn"] = SimpleNamespace(compute=nova, network=network)
    driver.__dict__["_project"] = "p-1"
    return driver


def test_the_firewall_wait_of_a_delete_goes_through_the_pause_it_is_given():
    nova = NovaThatNeverLetsGo()
    paused: list[float] = []

    def pause(seconds: float) -> None:
        paused.append(seconds)
        if len(paused) == 3:
            raise Cancelled

    with pytest.raises(Cancelled):
        _driver(nova).machine_delete(machine_id="server-1", pause=pause)
    assert nova.deleted == ["server-1"]  # the server was deleted before the wait
    assert paused == [1, 1, 1]  # and the wait stopped at the first pause that raised
