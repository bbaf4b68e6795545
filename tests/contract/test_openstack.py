"""What only the OpenStack driver does, against a real OpenStack (the same
clouds.yaml as the contract suite; skipped, saying why, without one)."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import connection as django_connection
from django.utils import timezone
from openstack import exceptions as openstack_exceptions

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


def _member_connection() -> sdk.Connection:
    from tests.contract.openstack_rig import password_connection

    return password_connection(yaml.safe_load(Path(CLOUDS_YAML).read_text())["clouds"]["demo"])


def test_a_machines_firewall_is_the_shared_group_until_changed_then_one_of_its_own_gone_with_it(cut: CloudUnderTest):
    conn = _member_connection()
    machine = cut.boot("atrium-sg")
    cut.wait_status(machine.id, dto.MachineStatus.ACTIVE)
    server = conn.compute.get_server(machine.id)
    shared = conn.network.get_security_group(server.metadata["atrium_firewall"])
    assert server.metadata["atrium_firewall_shared"] == "true"
    assert {g["name"] for g in server.security_groups} == {shared.name, "default"}  # machines still reach each other
    rule = cut.driver.machine_firewall_rule_add(machine_id=machine.id, protocol="udp", port_min=60000, port_max=61000)
    # Its first change gives it a group of its own, in place of the shared one.
    server = conn.compute.get_server(machine.id)
    own = conn.network.get_security_group(server.metadata["atrium_firewall"])
    assert own.id != shared.id
    assert server.metadata["atrium_firewall_shared"] == "false"
    assert {g["name"] for g in server.security_groups} == {own.name, "default"}
    seen = conn.network.get_security_group_rule(rule.id)
    assert (seen.security_group_id, seen.protocol, seen.port_range_min, seen.port_range_max) == (
        own.id,
        "udp",
        60000,
        61000,
    )  # mosh, in the machine's own group and nowhere else
    assert all(r.port_range_min != 60000 for r in conn.network.security_group_rules(security_group_id=shared.id))

    cut.driver.machine_delete(machine_id=machine.id)
    with pytest.raises(openstack_exceptions.NotFoundException):  # not find_*(ignore_missing=True): deprecated
        conn.network.get_security_group(own.id)
    assert conn.network.get_security_group(shared.id).id == shared.id  # the others' group stays

    outside = conn.compute.create_server(
        name="atrium-outside-sg", image_id=cut.image_id, flavor_id=cut.size_id, networks="auto"
    )
    cut.cleanups.append(lambda: cut._delete_quietly(outside.id))
    with pytest.raises(errors.InvalidOperation) as caught:
        cut.driver.machine_firewall(machine_id=outside.id)
    assert "not made by Atrium" in caught.value.message
    cut.wait_status(outside.id, dto.MachineStatus.ACTIVE)
    assert cut.driver.machine_firewalls(machine_ids=[outside.id]) == {outside.id: None}  # in no group of Atrium's


@pytest.mark.django_db(transaction=True)  # the jobs' threads need the tenancy row committed
def test_a_project_without_a_network_gets_one_with_a_router():
    clouds = yaml.safe_load(Path(CLOUDS_YAML).read_text())["clouds"]
    member, admin = clouds["demo"], clouds["admin"]

    from tests.contract.openstack_rig import password_connection

    admin_conn: Any = password_connection(admin)  # its identity proxy is typed v2 | v3; the rig speaks v3
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

        # A class's first machines asked for together: each job needs the network at once.
        def first_job() -> str:
            try:
                return driver_for_tenancy(tenancy).tenant_network().id
            finally:
                django_connection.close()

        with ThreadPoolExecutor(max_workers=3) as pool:
            made = set(pool.map(lambda _: first_job(), range(3)))
        network = driver.tenant_network()
        assert made == {network.id}  # one network, made once, for all of them
        assert not network.external
        assert network.cidr == "192.168.3.0/24"
        assert [n.id for n in admin_conn.network.networks(project_id=project.id)] == [network.id]
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
