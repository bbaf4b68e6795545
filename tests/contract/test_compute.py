"""The compute family's contract: the catalogue, machines, their console and quotas."""

from functools import partial

import pytest

from apps.clouds import dto, errors
from apps.clouds.base import Capabilities
from tests.contract.conftest import CloudUnderTest

S = dto.MachineStatus


def test_catalogue_lists_images_sizes_and_networks(cut: CloudUnderTest):
    images = cut.driver.images()
    sizes = cut.driver.sizes()
    assert cut.image_id in {image.id for image in images}
    assert all(isinstance(image, dto.Image) and image.name for image in images)
    assert cut.size_id in {size.id for size in sizes}
    assert all(size.cpus >= 1 and size.ram_mb > 0 for size in sizes)
    assert cut.driver.image_get(image_id=cut.image_id).id == cut.image_id
    assert cut.driver.size_get(size_id=cut.size_id).id == cut.size_id
    tenant = cut.driver.tenant_network()
    assert not tenant.external
    networks = cut.driver.networks()
    assert tenant.id in {network.id for network in networks}
    assert any(network.external for network in networks)


def test_capabilities_are_typed(cut: CloudUnderTest):
    assert isinstance(cut.driver.capabilities(), Capabilities)


def test_unknown_ids_are_not_found(cut: CloudUnderTest):
    for call in (
        lambda: cut.driver.image_get(image_id="00000000-0000-0000-0000-000000000000"),
        lambda: cut.driver.size_get(size_id="no-such-size"),
        lambda: cut.driver.machine_get(machine_id="00000000-0000-0000-0000-000000000000"),
        lambda: cut.driver.machine_stop(machine_id="00000000-0000-0000-0000-000000000000"),
    ):
        with pytest.raises(errors.NotFound) as caught:
            call()
        assert caught.value.status_code == 404
        assert caught.value.message


def test_boot_with_unknown_image_or_size_is_refused_clearly(cut: CloudUnderTest):
    before = {m.id for m in cut.driver.machines()}
    with pytest.raises((errors.BadInput, errors.NotFound)) as caught:
        cut.driver.machine_create(
            name="contract-bad-image", image_id="00000000-0000-0000-0000-000000000000", size_id=cut.size_id
        )
    assert caught.value.status_code in (400, 404)
    with pytest.raises((errors.BadInput, errors.NotFound)):
        cut.driver.machine_create(name="contract-bad-size", image_id=cut.image_id, size_id="no-such-size")
    assert {m.id for m in cut.driver.machines()} == before


def test_an_unknown_image_is_the_same_bad_input_on_every_cloud(cut: CloudUnderTest):
    """Every driver answers a machine with an image the project cannot use alike: BadInput
    (400, "bad_input") naming `image_id`, as `ComputeDriver.machine_create` documents; nothing is made."""
    before = {m.id for m in cut.driver.machines()}
    with pytest.raises(errors.BadInput) as caught:
        cut.driver.machine_create(
            name="contract-unknown-image", image_id="00000000-0000-0000-0000-000000000000", size_id=cut.size_id
        )
    assert (caught.value.status_code, caught.value.code) == (400, "bad_input")
    assert set(caught.value.fields) == {"image_id"}
    assert {m.id for m in cut.driver.machines()} == before


def test_an_unknown_network_or_firewall_is_bad_input_naming_it(cut: CloudUnderTest):
    """A network or shared firewall the project does not have (one a caller kept, since deleted)
    is BadInput naming `network_id` or `firewall_id` on every cloud, so the create job tells a stale
    one from any other refusal and finds them again; nothing is made."""
    before = {m.id for m in cut.driver.machines()}
    unknown = "00000000-0000-4000-8000-000000000000"
    boot = partial(cut.driver.machine_create, name="contract-unknown", image_id=cut.image_id, size_id=cut.size_id)
    with pytest.raises(errors.BadInput) as caught:
        boot(network_id=unknown)
    assert set(caught.value.fields) == {"network_id"}
    if cut.driver.capabilities().firewall:
        with pytest.raises(errors.BadInput) as caught:
            boot(firewall_id=unknown)
        assert set(caught.value.fields) == {"firewall_id"}
    assert {m.id for m in cut.driver.machines()} == before


def test_machine_lifecycle(cut: CloudUnderTest):
    machine = cut.boot("contract-lifecycle")
    assert machine.status in (S.BUILD, S.ACTIVE)
    assert machine.name == "contract-lifecycle"
    active = cut.wait_status(machine.id, S.ACTIVE)
    assert active.image_id == cut.image_id
    assert active.size_id == cut.size_id
    assert active.internal_ip
    assert machine.id in {m.id for m in cut.driver.machines()}

    cut.driver.machine_stop(machine_id=machine.id)
    cut.wait_status(machine.id, S.STOPPED)
    with pytest.raises(errors.InvalidOperation) as caught:
        cut.driver.machine_stop(machine_id=machine.id)
    assert caught.value.status_code == 409
    cut.driver.machine_start(machine_id=machine.id)
    cut.wait_status(machine.id, S.ACTIVE)
    with pytest.raises(errors.InvalidOperation):
        cut.driver.machine_start(machine_id=machine.id)
    cut.driver.machine_reboot(machine_id=machine.id)
    cut.wait_status(machine.id, S.ACTIVE)

    cut.driver.machine_delete(machine_id=machine.id)
    cut.wait_gone(machine.id)
    assert machine.id not in {m.id for m in cut.driver.machines()}


def test_console_log(cut: CloudUnderTest):
    if not cut.driver.capabilities().console_log:
        with pytest.raises(errors.Unsupported):
            cut.driver.machine_console_log(machine_id="any")
        pytest.skip("this cloud offers no console log (checked that asking raises Unsupported)")
    machine = cut.boot("contract-console")
    cut.wait_status(machine.id, S.ACTIVE)
    log = cut.driver.machine_console_log(machine_id=machine.id)
    assert isinstance(log, str)
    assert len(cut.driver.machine_console_log(machine_id=machine.id, lines=1).splitlines()) <= 1


def test_over_quota_boot_is_quota_exceeded(cut: CloudUnderTest):
    in_use = next(q for q in cut.driver.quotas() if q.resource == "machines")
    assert in_use.limit is None or in_use.limit >= in_use.used
    cut.set_machine_quota(in_use.used)
    with pytest.raises(errors.QuotaExceeded) as caught:
        cut.boot("contract-over-quota")
    assert caught.value.status_code == 409
    assert "quota" in caught.value.message.lower()


def test_quotas_report_use(cut: CloudUnderTest):
    before = {q.resource: q for q in cut.driver.quotas()}
    assert {"machines", "cpus", "ram_mb"} <= set(before)
    machine = cut.boot("contract-quota-use")
    cut.wait_status(machine.id, S.ACTIVE)
    after = {q.resource: q for q in cut.driver.quotas()}
    size = cut.driver.size_get(size_id=cut.size_id)
    assert after["machines"].used == before["machines"].used + 1
    assert after["cpus"].used == before["cpus"].used + size.cpus
