"""The storage family's contract: volumes."""

import pytest

from apps.clouds import dto, errors
from tests.contract.conftest import CloudUnderTest

S = dto.MachineStatus


def test_volumes(cut: CloudUnderTest):
    if not cut.driver.capabilities().volumes:
        with pytest.raises(errors.Unsupported):
            cut.driver.volume_create(name="contract-volume", size_gb=1)
        pytest.skip("this cloud offers no volumes (checked that asking raises Unsupported)")
    machine = cut.boot("contract-volume-host")
    cut.wait_status(machine.id, S.ACTIVE)
    volume = cut.driver.volume_create(name="contract-volume", size_gb=1)
    cut.cleanups.append(lambda: cut.driver.volume_delete(volume_id=volume.id))
    cut.wait_for(
        "volume available", lambda: cut.driver.volume_get(volume_id=volume.id).status == dto.VolumeStatus.AVAILABLE
    )
    with pytest.raises(errors.BadInput):
        cut.driver.volume_create(name="contract-empty", size_gb=0)
    cut.driver.volume_attach(volume_id=volume.id, machine_id=machine.id)
    cut.wait_for("volume in use", lambda: cut.driver.volume_get(volume_id=volume.id).status == dto.VolumeStatus.IN_USE)
    assert cut.driver.volume_get(volume_id=volume.id).machine_id == machine.id
    with pytest.raises(errors.InvalidOperation):
        cut.driver.volume_delete(volume_id=volume.id)
    cut.driver.volume_detach(volume_id=volume.id)
    cut.wait_for(
        "volume detached", lambda: cut.driver.volume_get(volume_id=volume.id).status == dto.VolumeStatus.AVAILABLE
    )
