"""The local cloud's own behaviour beyond the contract: transitions over time,
placement and capacity, faults, quotas, Kubernetes and leases. Time moves with
`local_clock_advance` (the simulated cloud's clock, in the database), never by
sleeping."""

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.clouds import dto, errors
from apps.clouds.local.seed import local_cloud_seed
from apps.clouds.local.services import local_clock_advance, local_fault_inject, local_faults_clear, local_quota_set
from apps.clouds.models import LocalHost
from apps.clouds.registry import driver_for_tenancy
from apps.tenancies.models import Cloud, Tenancy
from tests.factories import CloudFactory, TenancyFactory

S = dto.MachineStatus
C = dto.ClusterStatus
HOUR = 3600


@pytest.fixture
def cloud(db):
    cloud = CloudFactory(
        name="Slow local cloud",
        driver=Cloud.Driver.LOCAL,
        options={"build_seconds": 60, "action_seconds": 10, "cluster_seconds": 600},
    )
    local_cloud_seed(cloud, projects=["physics", "biology"])
    return cloud


@pytest.fixture
def physics(cloud):
    return driver_for_tenancy(TenancyFactory(name="Physics", cloud=cloud, project_id="physics"))


@pytest.fixture
def biology(cloud):
    return driver_for_tenancy(TenancyFactory(name="Biology", cloud=cloud, project_id="biology"))


def _ids(driver):
    images = {i.name: i.id for i in driver.images()}
    sizes = {s.name: s.id for s in driver.sizes()}
    return images, sizes


def _boot(driver, name="vm", image="Ubuntu 24.04 LTS", size="small", **kwargs):
    images, sizes = _ids(driver)
    return driver.machine_create(name=name, image_id=images[image], size_id=sizes[size], **kwargs)


def test_machine_builds_then_is_active_for_every_process(cloud, physics):
    machine = _boot(physics)
    assert machine.status == S.BUILD
    local_clock_advance(cloud=cloud, seconds=30)
    assert physics.machine_get(machine_id=machine.id).status == S.BUILD
    local_clock_advance(cloud=cloud, seconds=31)
    # A second driver instance (another worker) sees the same cloud.
    other = driver_for_tenancy(Tenancy.objects.get(cloud=cloud, project_id="physics"))
    assert other.machine_get(machine_id=machine.id).status == S.ACTIVE


def test_stop_start_reboot_pass_through_transitional_states(cloud, physics):
    machine = _boot(physics)
    with pytest.raises(errors.InvalidOperation, match="BUILD"):
        physics.machine_stop(machine_id=machine.id)
    local_clock_advance(cloud=cloud, seconds=HOUR)
    assert physics.machine_stop(machine_id=machine.id).status == S.STOPPING
    with pytest.raises(errors.InvalidOperation):
        physics.machine_start(machine_id=machine.id)
    local_clock_advance(cloud=cloud, seconds=HOUR)
    assert physics.machine_get(machine_id=machine.id).status == S.STOPPED
    with pytest.raises(errors.InvalidOperation):
        physics.machine_reboot(machine_id=machine.id)
    assert physics.machine_reboot(machine_id=machine.id, hard=True).status == S.REBOOTING
    local_clock_advance(cloud=cloud, seconds=HOUR)
    assert physics.machine_get(machine_id=machine.id).status == S.ACTIVE
    log = physics.machine_console_log(machine_id=machine.id)
    assert "login:" in log
    assert "machine stopped" in log
    assert "machine rebooted" in log


def test_projects_do_not_see_each_others_machines(physics, biology):
    machine = _boot(physics)
    assert biology.machines() == []
    with pytest.raises(errors.NotFound):
        biology.machine_get(machine_id=machine.id)
    with pytest.raises(errors.NotFound):
        biology.machine_delete(machine_id=machine.id)


def test_bad_machine_requests_are_typed_errors(physics):
    with pytest.raises(errors.BadInput, match="name"):
        _boot(physics, name="  ")
    with pytest.raises(errors.BadInput, match="needs at least 40 GB"):
        _boot(physics, image="Ubuntu 24.04 + CUDA 12", size="small")
    with pytest.raises(errors.BadInput, match="key pair"):
        _boot(physics, key_name="nobody")
    with pytest.raises(errors.BadInput, match="not an SSH public key"):
        physics.keypair_import(name="mine", public_key="hello")


def test_key_pairs(physics):
    key = physics.keypair_import(name="laptop", public_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTests a@b")
    assert key.fingerprint.startswith("SHA256:")
    machine = _boot(physics, key_name="laptop")
    assert machine.key_name == "laptop"
    with pytest.raises(errors.InvalidOperation, match="already exists"):
        physics.keypair_import(name="laptop", public_key=key.public_key)
    physics.keypair_delete(name="laptop")
    assert physics.keypairs() == []


def test_quota_names_the_resource_and_the_numbers(cloud, physics):
    local_quota_set(cloud=cloud, project_id="physics", cpus=10)
    _boot(physics, size="xlarge")
    with pytest.raises(errors.QuotaExceeded) as caught:
        _boot(physics, size="large")
    assert caught.value.message == ("Quota exceeded for CPUs: this needs 4, but the project already uses 8 of 10.")
    assert caught.value.status_code == 409
    cpus = next(q for q in physics.quotas() if q.resource == "cpus")
    assert (cpus.limit, cpus.used, cpus.free) == (10, 8, 2)


def test_volume_and_ip_quotas(cloud, physics):
    local_quota_set(cloud=cloud, project_id="physics", volume_gb=100, external_ips=1)
    physics.volume_create(name="data", size_gb=80)
    with pytest.raises(errors.QuotaExceeded, match="volume storage"):
        physics.volume_create(name="more", size_gb=30)
    physics.external_ip_allocate()
    with pytest.raises(errors.QuotaExceeded, match="external IPs"):
        physics.external_ip_allocate()


def test_machine_fails_to_build_when_no_host_has_room(cloud, physics):
    LocalHost.objects.filter(cloud=cloud, reservable=False).update(cpus=2)  # four hosts: room for four "medium"
    first = _boot(physics, size="medium")
    second = _boot(physics, size="medium", name="vm2")
    local_clock_advance(cloud=cloud, seconds=HOUR)
    statuses = sorted(physics.machine_get(machine_id=m.id).status for m in (first, second))
    assert statuses == [S.ACTIVE] * 2
    third = _boot(physics, size="medium", name="vm3")
    fourth = _boot(physics, size="medium", name="vm4")
    fifth = _boot(physics, size="medium", name="vm5")
    local_clock_advance(cloud=cloud, seconds=HOUR)
    failed = physics.machine_get(machine_id=fifth.id)
    assert failed.status == S.ERROR
    assert "No valid host" in failed.fault
    assert {physics.machine_get(machine_id=m.id).status for m in (third, fourth)} == {S.ACTIVE}
    used = {host.name: host.used.cpus for host in physics.hosts()}
    assert used["reserve-01"] == 0  # reservable hosts only take machines in a lease


def test_injected_build_failure_happens_once(cloud, physics):
    local_fault_inject(
        cloud=cloud, operation="machine_create", kind="build_failure", message="Disk image corrupt.", times=1
    )
    broken = _boot(physics)
    fine = _boot(physics, name="vm2")
    local_clock_advance(cloud=cloud, seconds=HOUR)
    assert physics.machine_get(machine_id=broken.id).status == S.ERROR
    assert physics.machine_get(machine_id=broken.id).fault == "Disk image corrupt."
    assert physics.machine_get(machine_id=fine.id).status == S.ACTIVE


@pytest.mark.parametrize(
    ("kind", "error", "retryable", "status"),
    [
        ("timeout", errors.Timeout, True, 504),
        ("unreachable", errors.Communication, True, 502),
        ("authentication", errors.Authentication, False, 502),
        ("error", errors.CloudError, False, 502),
    ],
)
def test_injected_api_errors_on_a_named_operation(cloud, physics, biology, kind, error, retryable, status):
    local_fault_inject(cloud=cloud, operation="images", kind=kind, project_id="physics")
    with pytest.raises(error) as caught:
        physics.images()
    assert caught.value.retryable is retryable
    assert caught.value.status_code == status
    assert physics.sizes()  # other operations work
    assert biology.images()  # other projects are not affected
    with pytest.raises(error):
        physics.images()  # until cleared
    local_faults_clear(cloud=cloud)
    assert physics.images()


def test_unknown_fault_is_refused(cloud):
    with pytest.raises(errors.BadInput, match="no driver operation"):
        local_fault_inject(cloud=cloud, operation="machine_explode", kind="timeout")
    with pytest.raises(errors.BadInput, match="no fault kind"):
        local_fault_inject(cloud=cloud, operation="images", kind="gremlins")


def test_volume_attach_detach_rules(cloud, physics):
    machine = _boot(physics)
    volume = physics.volume_create(name="data", size_gb=10)
    with pytest.raises(errors.InvalidOperation, match="BUILD"):
        physics.volume_attach(volume_id=volume.id, machine_id=machine.id)
    local_clock_advance(cloud=cloud, seconds=HOUR)
    attached = physics.volume_attach(volume_id=volume.id, machine_id=machine.id)
    assert (attached.status, attached.device) == (dto.VolumeStatus.IN_USE, "/dev/vdb")
    physics.machine_delete(machine_id=machine.id)
    assert physics.volume_get(volume_id=volume.id).status == dto.VolumeStatus.AVAILABLE


def test_kubernetes_cluster_create_resize_upgrade(cloud, physics):
    templates = {t.name: t for t in physics.cluster_templates()}
    old, new = templates["kubernetes-1.31"], templates["kubernetes-1.32"]
    cluster = physics.cluster_create(name="analysis", template_id=old.id, worker_count=2)
    assert cluster.status == C.CREATE_IN_PROGRESS
    with pytest.raises(errors.InvalidOperation, match="no API"):
        physics.cluster_kubeconfig(cluster_id=cluster.id)
    with pytest.raises(errors.InvalidOperation):
        physics.cluster_resize(cluster_id=cluster.id, worker_count=3)
    local_clock_advance(cloud=cloud, seconds=HOUR)
    assert physics.cluster_get(cluster_id=cluster.id).status == C.CREATE_COMPLETE
    kubeconfig = physics.cluster_kubeconfig(cluster_id=cluster.id)
    assert "kind: Config" in kubeconfig
    assert cluster.api_address in kubeconfig
    machines = next(q for q in physics.quotas() if q.resource == "machines")
    assert machines.used == 3  # the cluster's nodes count, as Magnum's servers do

    resized = physics.cluster_resize(cluster_id=cluster.id, worker_count=3)
    assert (resized.status, resized.worker_count) == (C.UPDATE_IN_PROGRESS, 3)
    local_clock_advance(cloud=cloud, seconds=HOUR)
    with pytest.raises(errors.InvalidOperation, match="not newer"):
        physics.cluster_upgrade(cluster_id=cluster.id, template_id=old.id)
    upgraded = physics.cluster_upgrade(cluster_id=cluster.id, template_id=new.id)
    assert upgraded.kubernetes_version == new.kubernetes_version
    local_clock_advance(cloud=cloud, seconds=HOUR)
    assert physics.cluster_get(cluster_id=cluster.id).status == C.UPDATE_COMPLETE
    local_quota_set(cloud=cloud, project_id="physics", cpus=20)
    with pytest.raises(errors.QuotaExceeded):
        physics.cluster_resize(cluster_id=cluster.id, worker_count=10)
    physics.cluster_delete(cluster_id=cluster.id)
    assert physics.clusters() == []


def test_cluster_build_failure_and_bad_input(cloud, physics):
    template = physics.cluster_templates()[0]
    with pytest.raises(errors.BadInput, match="at least one worker"):
        physics.cluster_create(name="k", template_id=template.id, worker_count=0)
    with pytest.raises(errors.BadInput, match="template"):
        physics.cluster_create(name="k", template_id="nope", worker_count=1)
    local_fault_inject(cloud=cloud, operation="cluster_create", kind="build_failure", times=1)
    cluster = physics.cluster_create(name="k", template_id=template.id, worker_count=1)
    local_clock_advance(cloud=cloud, seconds=HOUR)
    failed = physics.cluster_get(cluster_id=cluster.id)
    assert failed.status == C.CREATE_FAILED
    assert failed.status_reason


def test_host_leases_respect_capacity_over_time(cloud, physics, biology):
    start = timezone.now() + timedelta(days=7)
    end = start + timedelta(days=2)
    hosts = [dto.ReservationRequest(kind=dto.ReservationKind.HOST, count=2)]
    physics.lease_create(name="beamtime", start=start, end=end, reservations=hosts)
    one = [dto.ReservationRequest(kind=dto.ReservationKind.HOST, count=1)]
    with pytest.raises(errors.InvalidOperation, match="1 wanted, 0 free"):
        biology.lease_create(
            name="overlap", start=start + timedelta(days=1), end=end + timedelta(days=1), reservations=one
        )
    after = biology.lease_create(name="after", start=end, end=end + timedelta(days=1), reservations=one)
    assert after.status == dto.LeaseStatus.PENDING
    with pytest.raises(errors.InvalidOperation, match="cannot be extended"):
        physics.lease_update(lease_id=physics.leases()[0].id, end=end + timedelta(hours=1))


def test_instance_lease_packs_machines_and_boots_into_it(cloud, physics):
    sizes = {s.name: s for s in physics.sizes()}
    now = timezone.now()
    lease = physics.lease_create(
        name="workshop",
        start=now,
        end=now + timedelta(hours=4),
        reservations=[dto.ReservationRequest(kind=dto.ReservationKind.INSTANCE, count=2, size_id=sizes["xlarge"].id)],
    )
    assert lease.status == dto.LeaseStatus.ACTIVE
    machine = _boot(physics, size="xlarge", lease_id=lease.id)
    _boot(physics, size="xlarge", lease_id=lease.id, name="vm2")
    with pytest.raises(errors.QuotaExceeded, match="no room left"):
        _boot(physics, size="xlarge", lease_id=lease.id, name="vm3")
    with pytest.raises(errors.BadInput, match="reserves no machines of size small"):
        _boot(physics, size="small", lease_id=lease.id, name="vm4")
    local_clock_advance(cloud=cloud, seconds=60)
    active = physics.machine_get(machine_id=machine.id)
    assert active.status == S.ACTIVE
    assert active.lease_id == lease.id
    assert active.extra["host"].startswith("reserve-")
    # When the lease ends, its machines go, as Blazar deletes them.
    local_clock_advance(cloud=cloud, seconds=5 * HOUR)
    assert physics.lease_get(lease_id=lease.id).status == dto.LeaseStatus.TERMINATED
    assert physics.machines() == []


def test_ending_an_active_lease_early(cloud, physics):
    now = timezone.now()
    lease = physics.lease_create(
        name="short",
        start=now,
        end=now + timedelta(days=1),
        reservations=[dto.ReservationRequest(kind=dto.ReservationKind.HOST, count=1)],
    )
    _boot(physics, lease_id=lease.id)
    physics.lease_delete(lease_id=lease.id)
    assert physics.lease_get(lease_id=lease.id).status == dto.LeaseStatus.TERMINATED
    assert physics.machines() == []


def _queries(call) -> int:
    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured)


def test_listing_machines_costs_the_same_queries_for_one_or_many(physics):
    _boot(physics)
    one = _queries(physics.machines)
    for index in range(5):
        _boot(physics, name=f"more-{index}")
    assert _queries(physics.machines) == one


def test_lease_times_without_a_time_zone_are_refused(physics):
    naive = datetime(2030, 1, 1, 12, 0)
    with pytest.raises(errors.BadInput, match="time zone"):
        physics.lease_create(
            name="naive",
            start=naive,
            end=naive + timedelta(days=1),
            reservations=[dto.ReservationRequest(kind=dto.ReservationKind.HOST, count=1)],
        )
