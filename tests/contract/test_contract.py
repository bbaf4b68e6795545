"""Scenarios every driver must pass, whatever cloud is behind it."""

import contextlib
from datetime import timedelta

import pytest
from django.utils import timezone

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


def test_each_machine_has_a_firewall_of_its_own(cut: CloudUnderTest):
    if not cut.driver.capabilities().firewall:
        with pytest.raises(errors.Unsupported):
            cut.driver.machine_firewall(machine_id="any")
        pytest.skip("this cloud offers no machine firewalls (checked that asking raises Unsupported)")
    web = cut.boot("contract-fw-web")
    other = cut.boot("contract-fw-other")
    cut.wait_status(web.id, S.ACTIVE)
    P = dto.FirewallProtocol
    opened = {
        (r.protocol, r.port_min, r.port_max, r.remote_cidr) for r in cut.driver.machine_firewall(machine_id=web.id)
    }
    assert (P.TCP, 22, 22, "0.0.0.0/0") in opened  # SSH from anywhere, to start with
    assert (P.ICMP, None, None, "0.0.0.0/0") in opened

    jupyter = cut.driver.machine_firewall_rule_add(
        machine_id=web.id, protocol="tcp", port_min=8888, remote_cidr="192.0.2.7"
    )
    assert (jupyter.protocol, jupyter.port_min, jupyter.port_max, jupyter.remote_cidr) == (
        P.TCP,
        8888,
        8888,
        "192.0.2.7/32",
    )
    assert jupyter.id in {r.id for r in cut.driver.machine_firewall(machine_id=web.id)}
    assert jupyter.id not in {r.id for r in cut.driver.machine_firewall(machine_id=other.id)}
    cut.wait_status(other.id, S.ACTIVE)
    # All at once, as the sync reads them: the same rules, each machine its own.
    every = cut.driver.machine_firewalls(machine_ids=[web.id, other.id, "no-such-machine"])
    assert set(every) == {web.id, other.id}
    for machine in (web, other):
        assert sorted(r.id for r in every[machine.id] or []) == sorted(
            r.id for r in cut.driver.machine_firewall(machine_id=machine.id)
        )
    with pytest.raises(errors.InvalidOperation):
        cut.driver.machine_firewall_rule_add(machine_id=web.id, protocol="tcp", port_min=8888, remote_cidr="192.0.2.7")
    with pytest.raises(errors.BadInput) as caught:
        cut.driver.machine_firewall_rule_add(
            machine_id=web.id, protocol="tcp", port_min=9000, port_max=8000, remote_cidr="nowhere"
        )
    assert set(caught.value.fields) == {"port_max", "remote_cidr"}
    with pytest.raises(errors.NotFound):  # another machine's rule is not this one's to remove
        cut.driver.machine_firewall_rule_remove(machine_id=other.id, rule_id=jupyter.id)

    cut.driver.machine_firewall_rule_remove(machine_id=web.id, rule_id=jupyter.id)
    assert jupyter.id not in {r.id for r in cut.driver.machine_firewall(machine_id=web.id)}
    with pytest.raises(errors.NotFound):
        cut.driver.machine_firewall_rule_remove(machine_id=web.id, rule_id=jupyter.id)
    cut.driver.machine_delete(machine_id=web.id)
    cut.wait_gone(web.id)
    with pytest.raises(errors.NotFound):
        cut.driver.machine_firewall(machine_id=web.id)


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


def test_external_ip_allocate_attach_detach_release(cut: CloudUnderTest):
    if not cut.driver.capabilities().external_ips:
        pytest.skip("this driver does not offer external IPs")
    machine = cut.boot("contract-ip")
    cut.wait_status(machine.id, S.ACTIVE)
    ip = cut.driver.external_ip_allocate()
    cut.cleanups.append(lambda: cut.driver.external_ip_release(ip_id=ip.id))
    assert ip.address
    assert ip.machine_id is None
    attached = cut.driver.external_ip_attach(ip_id=ip.id, machine_id=machine.id)
    assert attached.machine_id == machine.id
    cut.wait_for(
        "address shown on the machine", lambda: cut.driver.machine_get(machine_id=machine.id).external_ip == ip.address
    )
    detached = cut.driver.external_ip_detach(ip_id=ip.id)
    assert detached.machine_id is None
    cut.driver.external_ip_release(ip_id=ip.id)
    cut.cleanups.pop()
    assert ip.id not in {i.id for i in cut.driver.external_ips()}
    with pytest.raises(errors.NotFound):
        cut.driver.external_ip_attach(ip_id=ip.id, machine_id=machine.id)


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


def test_kubernetes_cluster(cut: CloudUnderTest):
    if not cut.driver.capabilities().kubernetes:
        with pytest.raises(errors.Unsupported):
            cut.driver.clusters()
        pytest.skip("this cloud offers no Kubernetes (checked that asking raises Unsupported)")
    template = cut.driver.cluster_templates()[0]
    with pytest.raises(errors.BadInput):
        cut.driver.cluster_create(name="contract-k8s", template_id=template.id, worker_count=0)
    cluster = cut.driver.cluster_create(name="contract-k8s", template_id=template.id, worker_count=1)
    cut.cleanups.append(lambda: cut.driver.cluster_delete(cluster_id=cluster.id))
    ready = (dto.ClusterStatus.CREATE_COMPLETE, dto.ClusterStatus.UPDATE_COMPLETE)
    cut.wait_for("cluster ready", lambda: cut.driver.cluster_get(cluster_id=cluster.id).status in ready)
    assert "kind: Config" in cut.driver.cluster_kubeconfig(cluster_id=cluster.id)
    cut.driver.cluster_resize(cluster_id=cluster.id, worker_count=2)
    cut.wait_for("cluster resized", lambda: cut.driver.cluster_get(cluster_id=cluster.id).status in ready)
    assert cut.driver.cluster_get(cluster_id=cluster.id).worker_count == 2
