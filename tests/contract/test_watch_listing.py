"""The tenancy's cloud watcher (apps.jobs.watch) compares what its one listing of the servers says
of each with what the job's own look (a GET of that server) saw: on every cloud the two must say
the same of a server that has not changed, or every round would wake every waiting job."""

from __future__ import annotations

from apps.clouds import dto
from apps.machines.jobs.machines import _servers, server_state
from tests.contract.conftest import CloudUnderTest


def test_a_listing_and_a_look_see_a_server_alike(cut: CloudUnderTest) -> None:
    machine = cut.boot("watched")
    cut.wait_status(machine.id, dto.MachineStatus.ACTIVE)
    looked = server_state(cut.driver.machine_get(machine_id=machine.id))
    listed = _servers(cut.tenancy, None)
    assert listed[machine.id] == looked
    assert looked.startswith("ACTIVE ")
