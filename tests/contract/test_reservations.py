"""The reservations family's contract: leases of hosts and of instances."""

import contextlib
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.clouds import dto, errors
from tests.contract.conftest import CloudUnderTest

S = dto.MachineStatus


def test_leases(cut: CloudUnderTest):
    if not cut.driver.capabilities().leases:
        pytest.skip("this driver does not offer reservations")
    start = timezone.now() + timedelta(days=30)
    end = start + timedelta(days=1)
    with pytest.raises(errors.BadInput):
        cut.driver.lease_create(
            name="contract-backwards",
            start=end,
            end=start,
            reservations=[dto.ReservationRequest(kind=dto.ReservationKind.HOST, count=1)],
        )
    lease = cut.driver.lease_create(
        name="contract-lease",
        start=start,
        end=end,
        reservations=[dto.ReservationRequest(kind=dto.ReservationKind.HOST, count=1)],
    )
    cut.cleanups.append(lambda: _delete_lease(cut, lease.id))
    assert lease.status in (dto.LeaseStatus.PENDING, dto.LeaseStatus.STARTING)
    assert lease.reservations[0].kind == dto.ReservationKind.HOST
    assert lease.id in {existing.id for existing in cut.driver.leases()}
    with pytest.raises(errors.InvalidOperation):
        cut.driver.lease_create(
            name="contract-too-many",
            start=start,
            end=end,
            reservations=[dto.ReservationRequest(kind=dto.ReservationKind.HOST, count=1000)],
        )
    cut.driver.lease_delete(lease_id=lease.id)
    cut.cleanups.pop()
    cut.wait_for("lease gone", lambda: lease.id not in {existing.id for existing in cut.driver.leases()})


def test_a_machine_boots_into_an_instance_reservation_of_its_size(cut: CloudUnderTest):
    if not cut.driver.capabilities().leases:
        pytest.skip("this driver does not offer reservations")
    now = timezone.now()
    lease = cut.driver.lease_create(
        name="contract-instances",
        start=now,
        end=now + timedelta(hours=2),
        reservations=[dto.ReservationRequest(kind=dto.ReservationKind.INSTANCE, count=1, size_id=cut.size_id)],
    )
    cut.cleanups.append(lambda: _delete_lease(cut, lease.id))
    assert lease.reservations[0].kind == dto.ReservationKind.INSTANCE
    assert lease.reservations[0].count == 1
    cut.wait_for("lease active", lambda: cut.driver.lease_get(lease_id=lease.id).status == dto.LeaseStatus.ACTIVE)
    sizes = cut.driver.sizes()
    reserved = next(s for s in sizes if s.id == cut.size_id)
    other_size = next(
        s for s in sizes if (s.cpus, s.ram_mb, s.disk_gb) != (reserved.cpus, reserved.ram_mb, reserved.disk_gb)
    )
    with pytest.raises(errors.BadInput):  # the lease holds room for one size only
        cut.driver.machine_create(
            name="contract-wrong-size", image_id=cut.image_id, size_id=other_size.id, lease_id=lease.id
        )
    machine = cut.driver.machine_create(
        name="contract-reserved", image_id=cut.image_id, size_id=cut.size_id, lease_id=lease.id
    )
    cut.cleanups.append(lambda: cut._delete_quietly(machine.id))
    cut.wait_status(machine.id, S.ACTIVE)


def _delete_lease(cut: CloudUnderTest, lease_id: str) -> None:
    with contextlib.suppress(errors.NotFound):
        cut.driver.lease_delete(lease_id=lease_id)
