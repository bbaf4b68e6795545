"""The machines flow as automation drives it: the REST API with an API token, jobs
run as the worker runs them, against every cloud of the contract suite (the local
cloud always; the real OpenStack services in CI). Each step is checked in the API's
answer and, where it matters, on the cloud itself through the driver."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from django.test import Client

from apps.accounts.services import api_token_create, ssh_key_add
from apps.catalogue.services import catalogue_refresh
from apps.machines.models import Machine
from tests.contract.conftest import CloudUnderTest
from tests.factories import UserFactory
from tests.unit.machines.test_api import accepted, error, post, url


@pytest.fixture
def automation(cut: CloudUnderTest):
    """A member of the tenancy and a client that authenticates only with their API token."""
    user = UserFactory(username="contract-automation")
    cut.tenancy.memberships.create(user=user)
    _, key = api_token_create(user=user, name="contract")
    return user, Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Token {key}")


def _public_key() -> str:
    return (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )


def test_a_machine_through_the_api_from_request_to_deletion(cut: CloudUnderTest, automation, settings):
    settings.ATRIUM_MACHINE_POLL_INTERVAL = 0.5 if cut.wait_seconds > 10 else 0.05
    user, client = automation
    tenancy = cut.tenancy
    key = ssh_key_add(user=user, name="ci", public_key=_public_key())

    def listed(rest: str) -> list[dict]:
        return client.get(url(tenancy, rest)).json()["results"]

    assert cut.image_id in {i["id"] for i in listed("images/")}
    assert cut.size_id in {s["id"] for s in listed("sizes/")}
    assert {"machines", "cpus", "ram_mb"} <= {q["resource"] for q in listed("quotas/")}
    external_ips = cut.driver.capabilities().external_ips

    # Bad input is a 400 naming the field, and leaves nothing behind.
    refused = error(post(client, url(tenancy, "machines/"), {"name": "api-vm", "image_id": cut.image_id}), 400)
    assert "size_id" in refused["fields"]
    assert not Machine.objects.filter(tenancy=tenancy).exists()

    body = {
        "name": "api-vm",
        "image_id": cut.image_id,
        "size_id": cut.size_id,
        "ssh_key_id": key.pk,
        "external_ip": external_ips,
    }
    created = accepted(post(client, url(tenancy, "machines/"), body))
    machine_url = created["machine"]["url"]
    cloud_id = Machine.objects.get(pk=created["machine"]["id"]).cloud_id
    if cloud_id:
        cut.cleanups.append(lambda: cut._delete_quietly(cloud_id))
    detail = client.get(machine_url).json()
    assert (detail["status"], detail["task"], detail["actions"]) == ("ACTIVE", "", ["stop", "restart", "delete"])
    on_cloud = cut.driver.machine_get(machine_id=cloud_id)
    assert detail["internal_ip"] == on_cloud.internal_ip
    assert detail["key_name"] == on_cloud.key_name
    assert any(not n["external"] for n in listed("networks/"))  # the project's own, made for it if need be
    if external_ips:
        assert detail["external_ip"]
        assert detail["external_ip"] == on_cloud.external_ip
    assert error(post(client, url(tenancy, "machines/"), body), 400)["fields"]["name"]  # names are unique

    for action, status in [("stop", "STOPPED"), ("start", "ACTIVE"), ("restart", "ACTIVE")]:
        accepted(post(client, machine_url + f"{action}/"))
        detail = client.get(machine_url).json()
        assert (detail["status"], detail["task"]) == (status, ""), action
        assert cut.driver.machine_get(machine_id=on_cloud.id).status.value == status, action
    error(post(client, machine_url + "start/"), 409)  # already running

    assert client.get(machine_url + "logs/").status_code == 200
    console = client.get(machine_url + "console/").json()
    assert console["kind"] == ("novnc" if cut.driver.capabilities().console else "serial")

    # Over quota: the cloud's limit set to what is in use; the API refuses before storing anything.
    in_use = next(q for q in cut.driver.quotas() if q.resource == "machines").used
    cut.set_machine_quota(in_use)
    catalogue_refresh(tenancy=tenancy)  # requests check the limits as last read: read them as the sync would
    over = error(post(client, url(tenancy, "machines/"), {**body, "name": "api-vm-2", "external_ip": False}), 409)
    assert "quota" in over["message"].lower()
    assert list(Machine.objects.filter(tenancy=tenancy).values_list("name", flat=True)) == ["api-vm"]
    cut.set_machine_quota(in_use + 10)
    catalogue_refresh(tenancy=tenancy)

    address = detail["external_ip"]
    accepted(client.delete(machine_url))
    assert client.get(machine_url).status_code == 404
    assert on_cloud.id not in {m.id for m in cut.driver.machines()}
    if address:  # the IP allocated with the machine went with it
        assert address not in {ip.address for ip in cut.driver.external_ips()}
        assert client.get(url(tenancy, "external-ips/")).json()["count"] == 0
