"""The machines, external IPs and volumes API against the local cloud (settling at
once); jobs run here with `job_run`, the code a worker runs. Requests that start
work answer 202 with the job; bad input 400 with field messages, wrong state or
over quota 409, and neither leaves a row or a job behind."""

import json

import factory
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.pagination import PageNumberPagination

from apps.accounts.services import api_token_create
from apps.jobs.models import Job
from apps.jobs.runner import job_run
from apps.machines import services
from apps.machines.models import ExternalIp, Machine, Volume
from apps.tenancies.models import Membership
from tests.factories import ExternalIpFactory, MachineFactory, MembershipFactory, UserFactory

from .conftest import by_name, offers, quota_set


def url(tenancy, rest: str = "") -> str:
    return f"/api/v1/tenancies/{tenancy.pk}/{rest}"


def post(client: Client, path: str, body: dict | None = None, **extra):
    return client.post(path, json.dumps(body or {}), content_type="application/json", **extra)


def accepted(response) -> dict:
    """A 202's job, after checking it says where to follow it; then run it as a worker would."""
    assert response.status_code == 202, response.content
    body = response.json()
    assert response["Location"].endswith(f"/api/v1/jobs/{body['id']}/")
    job_run(body["id"])
    job = Job.objects.get(pk=body["id"])
    assert job.state == Job.State.SUCCEEDED, job.error
    return body


def error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    return response.json()["error"]


@pytest.fixture
def active(physics, physicist, ubuntu, small) -> Machine:
    """A machine that is up (made through the services; the API flow has its own test)."""
    machine = services.machine_create(tenancy=physics, user=physicist, name="ready", image_id=ubuntu, size_id=small).row
    job_run(Job.objects.latest("pk").pk)
    machine.refresh_from_db()
    assert machine.status == "ACTIVE"
    return machine


# --- machines ------------------------------------------------------------------------------------


def test_create_answers_202_with_the_job_and_the_machine_which_the_job_makes_active(
    physicist_client, physics, ubuntu, small, ssh_key
):
    body = {"name": "analysis-1", "image_id": ubuntu, "size_id": small, "ssh_key_id": ssh_key.pk, "external_ip": True}
    response = post(physicist_client, url(physics, "machines/"), body)

    assert response.status_code == 202, response.content
    job = response.json()
    machine = Machine.objects.get()
    assert (job["kind"], job["state"], job["tenancy"]) == ("machines.create", "queued", physics.pk)
    assert job["target"] == {"type": "machines.machine", "id": str(machine.pk), "name": "analysis-1"}
    assert job["machine"]["id"] == machine.pk
    assert job["machine"]["url"].endswith(url(physics, f"machines/{machine.pk}/"))
    assert response["Location"].endswith(f"/api/v1/jobs/{job['id']}/")

    # Listed at once, as building.
    listed = physicist_client.get(url(physics, "machines/")).json()
    assert listed["count"] == 1
    assert (listed["results"][0]["status_label"], listed["results"][0]["actions"]) == ("building", [])

    job_run(job["id"])

    detail = physicist_client.get(job["machine"]["url"]).json()
    assert (detail["status"], detail["task"], detail["status_label"]) == ("ACTIVE", "", "Active")
    assert detail["image"] == {"id": ubuntu, "name": "Ubuntu 24.04 LTS"}
    assert detail["size"] == {"id": small, "name": "small", "cpus": 1, "ram_mb": 2048, "disk_gb": 20}
    assert detail["key_fingerprint"] == ssh_key.fingerprint
    assert detail["key_name"].startswith("atrium-")
    assert detail["internal_ip"]
    assert detail["external_ip"]
    assert (detail["external"], detail["console"], detail["created_by"]) == (False, True, "physicist")
    assert detail["actions"] == ["stop", "restart", "delete"]
    assert detail["volumes"] == []
    assert detail["observed_at"]
    assert detail["fault"] == ""


def test_list_filters_search_and_pages(physicist_client, physics, physicist, ubuntu, small, monkeypatch):
    services.machine_create(tenancy=physics, user=physicist, name="alpha", image_id=ubuntu, size_id=small)
    services.machine_create(tenancy=physics, user=physicist, name="beta", image_id=ubuntu, size_id=small)
    Machine.objects.filter(name="beta").update(status="STOPPED", task="")
    other = UserFactory(username="colleague")
    MembershipFactory(user=other, tenancy=physics, role=Membership.Role.MEMBER)
    MachineFactory(
        tenancy=physics, name="gamma", cloud_id="", status="BUILD", image_id=ubuntu, size_id=small, created_by=other
    )
    MachineFactory(
        tenancy=physics,
        name="horizon-vm",
        cloud_id="",
        status="BUILD",
        image_id=ubuntu,
        size_id=small,
        external=True,
        internal_ip="10.9.8.7",
    )

    def names(query: str = "") -> list[str]:
        response = physicist_client.get(url(physics, f"machines/{query}"))
        assert response.status_code == 200, response.content
        return [m["name"] for m in response.json()["results"]]

    assert names() == ["alpha", "beta", "gamma", "horizon-vm"]
    assert names("?status=STOPPED") == ["beta"]
    assert names("?q=ALP") == ["alpha"]
    assert names("?q=10.9.8") == ["horizon-vm"]
    assert names("?q=ubuntu") == ["alpha", "beta"]  # the image name (the others were made without one)
    assert names("?external=true") == ["horizon-vm"]
    assert names("?external=false&created_by=physicist") == ["alpha", "beta"]
    assert names("?created_by=colleague") == ["gamma"]

    assert set(error(physicist_client.get(url(physics, "machines/?status=ON_FIRE")), 400)["fields"]) == {"status"}
    assert set(error(physicist_client.get(url(physics, "machines/?external=maybe")), 400)["fields"]) == {"external"}

    monkeypatch.setattr(PageNumberPagination, "page_size", 3)  # PAGE_SIZE, read when DRF is imported
    first = physicist_client.get(url(physics, "machines/")).json()
    assert (first["count"], len(first["results"]), first["previous"]) == (4, 3, None)
    assert [m["name"] for m in physicist_client.get(first["next"]).json()["results"]] == ["horizon-vm"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"name": ""}, {"name"}),
        ({"name": "   "}, {"name"}),
        ({"name": "x" * 256}, {"name"}),
        ({"size_id": "no-such-size"}, {"size_id"}),
        ({"image_id": "no-such-image", "size_id": "no-such-size"}, {"image_id", "size_id"}),
        ({"ssh_key_id": "my-laptop"}, {"ssh_key_id"}),
        ({"ssh_key_id": 999999}, {"ssh_key_id"}),
        ({"ssh_key_id": 10**30}, {"ssh_key_id"}),
        ({"name": "nul\x00byte", "image_id": "nul\x00"}, {"name", "image_id"}),
        ({"external_ip": "perhaps"}, {"external_ip"}),
        ({"name": ["a", "b"]}, {"name"}),
        ({"size_id": None}, {"size_id"}),
    ],
)
def test_bad_input_answers_400_with_field_messages_and_leaves_nothing(
    physicist_client, physics, ubuntu, small, body, fields
):
    response = post(
        physicist_client, url(physics, "machines/"), {"name": "ok", "image_id": ubuntu, "size_id": small, **body}
    )
    refused = error(response, 400)
    assert set(refused["fields"]) == fields
    assert all(isinstance(m, str) and m for messages in refused["fields"].values() for m in messages)
    assert not Machine.objects.exists()
    assert not Job.objects.exists()


def test_a_body_that_is_not_an_object_is_a_400(physicist_client, physics):
    for text in ("{not json", "[1, 2]", '"a machine"'):
        response = physicist_client.post(url(physics, "machines/"), text, content_type="application/json")
        assert response.status_code == 400, text
    assert not Machine.objects.exists()


def test_messages_say_what_is_wrong(physicist_client, physics, ubuntu, small, catalogue):
    def fields(**body):
        return error(post(physicist_client, url(physics, "machines/"), body), 400)["fields"]

    assert fields(name="", image_id=ubuntu, size_id=small) == {"name": ["This field may not be blank."]}
    assert fields(name="n", image_id=ubuntu, size_id="huge") == {"size_id": ["Unknown size."]}
    cuda = by_name(catalogue.images, "Ubuntu 24.04 + CUDA 12")
    assert "needs at least" in fields(name="gpu", image_id=cuda, size_id=small)["size_id"][0]
    assert set(fields()) == {"name", "image_id", "size_id"}  # all missing, each said


def test_another_persons_ssh_key_is_refused(physicist_client, physics, ubuntu, small, biologist):
    from apps.accounts.services import ssh_key_add
    from tests.unit.accounts.test_ssh_keys import ED25519

    theirs = ssh_key_add(user=biologist, name="theirs", public_key=ED25519)
    body = {"name": "n", "image_id": ubuntu, "size_id": small, "ssh_key_id": theirs.pk}
    refused = error(post(physicist_client, url(physics, "machines/"), body), 400)
    assert refused["fields"] == {"ssh_key_id": ["Not one of your SSH keys."]}
    assert not Machine.objects.exists()


def test_a_size_over_quota_answers_409_and_leaves_nothing(physicist_client, physics, ubuntu, cloud, catalogue):
    quota_set(physics, cpus=4)
    xlarge = by_name(catalogue.sizes, "xlarge")
    refused = error(
        post(physicist_client, url(physics, "machines/"), {"name": "big", "image_id": ubuntu, "size_id": xlarge}), 409
    )
    assert refused["code"] == "quota_exceeded"
    assert "CPUs: this needs 8" in refused["message"]
    assert not Machine.objects.exists()
    assert not Job.objects.exists()


def test_a_duplicate_name_is_a_field_error(physicist_client, physics, active, ubuntu, small):
    refused = error(
        post(physicist_client, url(physics, "machines/"), {"name": "ready", "image_id": ubuntu, "size_id": small}), 400
    )
    assert refused["fields"] == {"name": ["Physics already has a machine called ready."]}
    assert Machine.objects.count() == 1


def test_stop_start_restart_delete_and_409_in_the_wrong_state(physicist_client, physics, active):
    machine = url(physics, f"machines/{active.pk}/")
    jobs = Job.objects.count()
    refused = error(post(physicist_client, machine + "start/"), 409)
    assert "can be started only when stopped" in refused["message"]
    assert Job.objects.count() == jobs

    accepted(post(physicist_client, machine + "stop/"))
    assert physicist_client.get(machine).json()["status"] == "STOPPED"
    error(post(physicist_client, machine + "restart/"), 409)
    accepted(post(physicist_client, machine + "start/"))
    stopping = post(physicist_client, machine + "stop/")
    assert stopping.status_code == 202
    busy = error(post(physicist_client, machine + "restart/"), 409)
    assert "is stopping" in busy["message"]
    assert physicist_client.get(machine).json()["actions"] == []
    job_run(stopping.json()["id"])

    deleting = physicist_client.delete(machine)
    assert deleting.json()["kind"] == "machines.delete"
    accepted(deleting)
    assert error(physicist_client.get(machine), 404)["code"] == "not_found"
    assert not Machine.objects.exists()


def test_unknown_paths_and_ids_are_404(physicist_client, physics, active):
    assert physicist_client.get(url(physics, "machines/999999/")).status_code == 404
    assert physicist_client.get(url(physics, "machines/abc/")).status_code == 404
    assert physicist_client.post(url(physics, "machines/abc/start/")).status_code == 404
    assert physicist_client.get(url(physics, f"machines/{active.pk}/explode/")).status_code == 404
    assert physicist_client.put(url(physics, f"machines/{active.pk}/")).status_code == 405


def test_console_log(physicist_client, physics, physicist, active, ubuntu, small):
    logs = url(physics, f"machines/{active.pk}/logs/")
    body = physicist_client.get(logs).json()
    assert body["machine"] == active.pk
    assert "ready login:" in body["log"]
    assert body["lines"] == 500
    assert physicist_client.get(logs + "?lines=2").json()["log"].splitlines() == body["log"].splitlines()[-2:]
    for bad in ("0", "ten", "100001", "-3"):
        assert set(error(physicist_client.get(f"{logs}?lines={bad}"), 400)["fields"]) == {"lines"}

    building = services.machine_create(
        tenancy=physics, user=physicist, name="later", image_id=ubuntu, size_id=small
    ).row
    assert "no server" in error(physicist_client.get(url(physics, f"machines/{building.pk}/logs/")), 409)["message"]

    offers(physics, console_log=False)
    assert error(physicist_client.get(logs), 400)["code"] == "unsupported"


# --- what a create form needs --------------------------------------------------------------------


def test_images_sizes_quotas_and_networks(physicist_client, physics, physicist, ubuntu, small):
    images = physicist_client.get(url(physics, "images/")).json()
    assert images["count"] == 5
    assert {"id": ubuntu, "name": "Ubuntu 24.04 LTS"}.items() <= next(
        i for i in images["results"] if i["id"] == ubuntu
    ).items()
    assert set(images["results"][0]) == {"id", "name", "os_distro", "os_version", "min_disk_gb", "min_ram_mb"}

    sizes = physicist_client.get(url(physics, "sizes/")).json()["results"]
    assert {"id": small, "name": "small", "cpus": 1, "ram_mb": 2048, "disk_gb": 20}.items() <= next(
        s for s in sizes if s["id"] == small
    ).items()

    services.machine_create(tenancy=physics, user=physicist, name="on-its-way", image_id=ubuntu, size_id=small)
    quotas = {q["resource"]: q for q in physicist_client.get(url(physics, "quotas/")).json()["results"]}
    assert quotas["cpus"] == {"resource": "cpus", "label": "CPUs", "limit": 32, "used": 1, "free": 31, "units": ""}
    assert (quotas["machines"]["used"], quotas["ram_mb"]["used"]) == (1, 2048)

    networks = physicist_client.get(url(physics, "networks/")).json()["results"]
    assert any(n["external"] for n in networks)
    assert set(networks[0]) == {"id", "name", "external", "cidr"}


# --- external IPs and volumes --------------------------------------------------------------------


def test_external_ip_allocate_attach_detach_release(physicist_client, physics, active):
    allocated = post(physicist_client, url(physics, "external-ips/"))
    assert allocated.json()["kind"] == "machines.ip_allocate"
    ip_url = allocated.json()["external_ip"]["url"]
    listed = physicist_client.get(url(physics, "external-ips/")).json()["results"]
    assert [(i["task"], i["address"]) for i in listed] == [("allocating", None)]
    accepted(allocated)
    ip = physicist_client.get(ip_url).json()
    assert ip["address"]
    assert ip["machine"] is None

    accepted(post(physicist_client, ip_url + "attach/", {"machine_id": active.pk}))
    ip = physicist_client.get(ip_url).json()
    assert ip["machine"]["id"] == active.pk
    assert physicist_client.get(url(physics, f"machines/{active.pk}/")).json()["external_ip"] == ip["address"]
    assert "detach it first" in error(physicist_client.delete(ip_url), 409)["message"]

    accepted(post(physicist_client, ip_url + "detach/"))
    error(post(physicist_client, ip_url + "detach/"), 409)
    accepted(physicist_client.delete(ip_url))
    assert not ExternalIp.objects.exists()
    assert physicist_client.get(ip_url).status_code == 404


def test_attach_refuses_bad_machine_ids_as_field_errors(
    physicist_client, physics, biology, physicist, biologist, active, ubuntu, small
):
    MembershipFactory(user=physicist, tenancy=biology)  # a member of both: still not Physics' machine
    theirs = services.machine_create(tenancy=biology, user=biologist, name="theirs", image_id=ubuntu, size_id=small).row
    ip = services.external_ip_allocate(tenancy=physics, user=physicist).row
    job_run(Job.objects.latest("pk").pk)
    volume = services.volume_create(tenancy=physics, user=physicist, name="data", size_gb=5).row
    job_run(Job.objects.latest("pk").pk)
    jobs = Job.objects.count()

    for attach in (url(physics, f"external-ips/{ip.pk}/attach/"), url(physics, f"volumes/{volume.pk}/attach/")):
        cases: list[tuple[dict, str]] = [
            ({"machine_id": theirs.pk}, "Unknown machine."),
            ({"machine_id": 999999}, "Unknown machine."),
            ({"machine_id": 10**30}, "Unknown machine."),
            ({"machine_id": "the big one"}, "A valid integer is required."),
            ({"machine_id": None}, "This field may not be null."),
            ({}, "This field is required."),
        ]
        for body, message in cases:
            assert error(post(physicist_client, attach, body), 400)["fields"] == {"machine_id": [message]}, body
    assert Job.objects.count() == jobs
    ip.refresh_from_db()
    assert (ip.task, ip.machine) == ("", None)


def test_volume_create_attach_detach_delete(physicist_client, physics, active):
    refused = error(post(physicist_client, url(physics, "volumes/"), {"name": "", "size_gb": 0}), 400)
    assert set(refused["fields"]) == {"name", "size_gb"}
    refused = error(post(physicist_client, url(physics, "volumes/"), {"name": "x", "size_gb": "lots"}), 400)
    assert refused["fields"] == {"size_gb": ["A valid integer is required."]}
    assert not Volume.objects.exists()

    created = post(physicist_client, url(physics, "volumes/"), {"name": "data", "size_gb": 50})
    volume_url = created.json()["volume"]["url"]
    assert physicist_client.get(volume_url).json()["status_label"] == "creating"
    accepted(created)
    assert physicist_client.get(volume_url).json()["status"] == "AVAILABLE"

    accepted(post(physicist_client, volume_url + "attach/", {"machine_id": active.pk}))
    volume = physicist_client.get(volume_url).json()
    assert (volume["status"], volume["machine"]["id"]) == ("IN_USE", active.pk)
    assert volume["device"]
    machine = physicist_client.get(url(physics, f"machines/{active.pk}/")).json()
    assert [(v["name"], v["device"]) for v in machine["volumes"]] == [("data", volume["device"])]
    error(physicist_client.delete(volume_url), 409)

    accepted(post(physicist_client, volume_url + "detach/"))
    accepted(physicist_client.delete(volume_url))
    assert not Volume.objects.exists()


# --- who may --------------------------------------------------------------------------------------


def test_api_tokens_work_without_a_session(physics, physicist, ubuntu, small):
    _, key = api_token_create(user=physicist, name="ci")
    client = Client(enforce_csrf_checks=True)
    token = f"Token {key}"
    assert client.get(url(physics, "machines/"), HTTP_AUTHORIZATION=token).status_code == 200
    body = {"name": "from-ci", "image_id": ubuntu, "size_id": small}
    response = post(client, url(physics, "machines/"), body, HTTP_AUTHORIZATION=token)
    assert response.status_code == 202, response.content
    assert Machine.objects.get().created_by == physicist
    assert client.get(url(physics, "machines/")).status_code in (401, 403)


def test_another_tenancys_machines_are_not_found(physics, biologist, active):
    client = Client()
    client.force_login(biologist)
    assert error(client.get(url(physics, "machines/")), 404)["code"] == "not_found"
    assert client.get(url(physics, f"machines/{active.pk}/")).status_code == 404
    assert post(client, url(physics, f"machines/{active.pk}/stop/")).status_code == 404
    assert client.delete(url(physics, f"machines/{active.pk}/")).status_code == 404
    assert Job.objects.count() == 1  # only the create's


# --- speed ----------------------------------------------------------------------------------------


def test_the_list_takes_as_many_queries_for_50_machines_as_for_5(physicist_client, physics, physicist, ubuntu, small):
    def make(count: int) -> None:
        start = Machine.objects.count()
        MachineFactory.create_batch(
            count,
            tenancy=physics,
            name=factory.Sequence(lambda n: f"m-{start + n:03}"),
            image_id=ubuntu,
            size_id=small,
            created_by=physicist,
        )

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = physicist_client.get(url(physics, "machines/?q=m-"))
        assert response.status_code == 200
        assert len(response.json()["results"]) == Machine.objects.count()
        return len(captured)

    make(5)
    physicist_client.get(url(physics, "machines/"))  # the session's first read is not the list's cost
    five = queries()
    make(45)
    assert queries() == five, "the machines list must not query per machine"


def test_console_points_at_atriums_console_page_for_members(physicist_client, physics, physicist, active):
    body = physicist_client.get(url(physics, f"machines/{active.pk}/console/")).json()
    assert body["kind"] == "serial"  # the local cloud: the live serial console
    assert body["url"].endswith(f"/tenancies/{physics.pk}/machines/{active.pk}/console/")
    page = physicist_client.get(body["url"])
    assert page.status_code == 200


def test_console_of_a_machine_without_one_or_not_active_is_409(physicist_client, physics, physicist, active):
    Machine.objects.filter(pk=active.pk).update(console_enabled=False)
    assert (
        "without a web console"
        in error(physicist_client.get(url(physics, f"machines/{active.pk}/console/")), 409)["message"]
    )
    Machine.objects.filter(pk=active.pk).update(console_enabled=True, status="STOPPED")
    assert (
        "opens when it is active"
        in error(physicist_client.get(url(physics, f"machines/{active.pk}/console/")), 409)["message"]
    )


def test_a_machine_gets_a_new_external_ip_as_on_its_page(physicist_client, physics, active):
    machine_url = url(physics, f"machines/{active.pk}/")
    job = accepted(post(physicist_client, machine_url + "external-ip/"))
    assert job["kind"] == "machines.ip_new"
    address = physicist_client.get(machine_url).json()["external_ip"]
    assert address
    listed = physicist_client.get(url(physics, "external-ips/")).json()["results"]
    assert [(i["address"], i["machine"]["id"]) for i in listed] == [(address, active.pk)]
    assert "already has the external IP" in error(post(physicist_client, machine_url + "external-ip/"), 409)["message"]
    accepted(physicist_client.delete(machine_url))  # and it goes with the machine
    assert physicist_client.get(url(physics, "external-ips/")).json()["count"] == 0


@pytest.mark.parametrize("query", ["", "?format=json"])
def test_rows_link_to_their_own_urls(physicist_client, physics, query):
    """Row URLs are made from the list's, reversed once a request (apps.core.resources.api.row_url):
    each is what its route gives, with the request's ?format= kept as DRF keeps it."""
    from django.urls import reverse

    machines = MachineFactory.create_batch(3, tenancy=physics)
    ExternalIpFactory(tenancy=physics, machine=machines[0])
    for kind, route in (("machines/", "api:machine-detail"), ("external-ips/", "api:external-ip-detail")):
        rows = physicist_client.get(url(physics, kind) + query).json()["results"]
        assert rows
        for row in rows:
            own = reverse(route, kwargs={"tenancy_id": physics.pk, "pk": row["id"]})
            assert row["url"] == f"http://testserver{own}{query}"
            if row.get("machine"):
                assert row["machine"]["url"].endswith(f"/machines/{row['machine']['id']}/{query}")
