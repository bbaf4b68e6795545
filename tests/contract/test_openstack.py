"""What only the OpenStack driver does, against a real OpenStack (the same
clouds.yaml as the contract suite; skipped, saying why, without one)."""

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.utils import timezone

from apps.clouds import dto, errors
from apps.clouds.openstack import sdk
from apps.clouds.registry import driver_for_tenancy
from apps.tenancies.models import Cloud
from tests.contract.conftest import CLOUDS_YAML, CloudUnderTest
from tests.factories import CloudFactory, TenancyFactory

pytestmark = pytest.mark.skipif(
    not CLOUDS_YAML, reason="OpenStack: set ATRIUM_TEST_OPENSTACK_CLOUDS_YAML to a clouds.yaml to run it"
)
ED25519 = (
    Ed25519PrivateKey.generate()
    .public_key()
    .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    .decode()
)


@pytest.fixture
def cut(db):
    from tests.contract.openstack_rig import openstack_cloud_under_test

    under_test = openstack_cloud_under_test(CLOUDS_YAML)
    yield under_test
    for cleanup in reversed(under_test.cleanups):
        cleanup()


def test_key_pairs_console_and_hard_reboot(cut: CloudUnderTest):
    name = f"atrium-{uuid.uuid4().hex[:8]}"
    key = cut.driver.keypair_import(name=name, public_key=ED25519)
    cut.cleanups.append(lambda: cut.driver.keypair_delete(name=name))
    assert key.fingerprint
    assert name in {k.name for k in cut.driver.keypairs()}
    with pytest.raises(errors.BadInput):
        cut.driver.keypair_import(name=f"{name}-bad", public_key="not a key")

    machine = cut.driver.machine_create(
        name="atrium-console", image_id=cut.image_id, size_id=cut.size_id, key_name=name
    )
    cut.cleanups.append(lambda: cut._delete_quietly(machine.id))
    active = cut.wait_status(machine.id, dto.MachineStatus.ACTIVE)
    assert active.key_name == name
    console = cut.driver.machine_console(machine_id=machine.id)
    assert console.kind == dto.ConsoleKind.NOVNC
    assert console.url.startswith("http")
    cut.driver.machine_reboot(machine_id=machine.id, hard=True)
    cut.wait_status(machine.id, dto.MachineStatus.ACTIVE)


def test_a_project_without_a_network_gets_one_with_a_router(db):
    clouds = yaml.safe_load(Path(CLOUDS_YAML).read_text())["clouds"]
    member, admin = clouds["demo"], clouds["admin"]

    def connect(config, project_id=""):
        auth = dict(config["auth"])
        url = auth.pop("auth_url")
        return sdk.connect(auth_url=url, project_id=project_id, credentials=auth, options={})

    admin_conn = connect(admin)
    project = admin_conn.identity.create_project(name=f"atrium-empty-{uuid.uuid4().hex[:8]}", domain_id="default")
    user = admin_conn.identity.find_user(member["auth"]["username"], ignore_missing=False)
    role = admin_conn.identity.find_role("member", ignore_missing=False)
    admin_conn.identity.assign_project_role_to_user(project, user, role)
    cloud = CloudFactory(
        name="Fresh OpenStack project", driver=Cloud.Driver.OPENSTACK, endpoint=member["auth"]["auth_url"]
    )
    secrets = {k: member["auth"][k] for k in ("username", "password", "user_domain_name")}
    tenancy = TenancyFactory(cloud=cloud, project_id=project.id, credentials=secrets)
    driver = driver_for_tenancy(tenancy)
    try:
        assert [n for n in driver.networks() if not n.external] == []
        network = driver.tenant_network()
        assert not network.external
        assert network.cidr == "192.168.3.0/24"
        assert driver_for_tenancy(tenancy).tenant_network().id == network.id  # made once
        routers = list(admin_conn.network.routers(project_id=project.id))
        assert len(routers) == 1
        assert routers[0].external_gateway_info
    finally:
        net = admin_conn.network
        for router in net.routers(project_id=project.id):
            for subnet in net.subnets(project_id=project.id):
                net.remove_interface_from_router(router, subnet=subnet.id)
            net.delete_router(router)
        for network_left in net.networks(project_id=project.id):
            net.delete_network(network_left)
        admin_conn.identity.delete_project(project)


def test_refused_credentials_are_an_authentication_error(db):
    clouds = yaml.safe_load(Path(CLOUDS_YAML).read_text())["clouds"]
    member = clouds["demo"]
    cloud = CloudFactory(name="Wrong secret", driver=Cloud.Driver.OPENSTACK, endpoint=member["auth"]["auth_url"])
    tenancy = TenancyFactory(
        cloud=cloud,
        project_id="",
        credentials={"application_credential_id": uuid.uuid4().hex, "application_credential_secret": "wrong"},
    )
    with pytest.raises(errors.Authentication) as caught:
        driver_for_tenancy(tenancy).images()
    assert not caught.value.retryable
    assert "operator" in caught.value.message


def test_a_machine_boots_into_a_host_lease_that_starts_now(cut: CloudUnderTest):
    if not cut.driver.capabilities().leases:
        pytest.skip("this cloud offers no reservations")
    now = timezone.now()
    lease = cut.driver.lease_create(
        name=f"atrium-now-{uuid.uuid4().hex[:6]}",
        start=now,
        end=now + timedelta(hours=2),
        reservations=[dto.ReservationRequest(kind=dto.ReservationKind.HOST, count=1)],
    )
    cut.cleanups.append(lambda: cut.driver.lease_delete(lease_id=lease.id))
    cut.wait_for("lease active", lambda: cut.driver.lease_get(lease_id=lease.id).status == dto.LeaseStatus.ACTIVE)
    machine = cut.driver.machine_create(
        name="atrium-reserved", image_id=cut.image_id, size_id=cut.size_id, lease_id=lease.id
    )
    cut.cleanups.append(lambda: cut._delete_quietly(machine.id))
    cut.wait_status(machine.id, dto.MachineStatus.ACTIVE)
