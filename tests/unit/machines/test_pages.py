"""The machine pages: what a member sees and can do, and what bad input gives."""

import re

import factory
import pytest
from django.urls import reverse

from apps.jobs.models import Job
from apps.machines.models import Machine, Volume
from tests.factories import ExternalIpFactory, MachineFactory

from .conftest import offers, quota_set
from .test_services import create, run_latest


def test_list_shows_machines_with_size_image_status_and_creator(physics, physicist, physicist_client, ubuntu, small):
    machine = create(physics, physicist, ubuntu, small)
    response = physicist_client.get(reverse("machines:machine-list", args=[physics.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "analysis-1" in html
    assert "Building" in html
    assert "1 CPU · 2 GB · 20 GB" in html
    assert "Ubuntu 24.04 LTS" in html
    assert f"machines={machine.pk}" in html  # the live socket knows the row
    run_latest(machine)
    html = physicist_client.get(reverse("machines:machine-list", args=[physics.pk])).content.decode()
    assert 'data-status="ACTIVE"' in html


def test_list_filters_and_search(physics, physicist, physicist_client, ubuntu, small):
    create(physics, physicist, ubuntu, small, name="alpha")
    create(physics, physicist, ubuntu, small, name="beta")
    url = reverse("machines:machine-list", args=[physics.pk])
    html = physicist_client.get(url, {"q": "alp"}).content.decode()
    assert "alpha" in html
    assert "beta" not in html
    html = physicist_client.get(url, {"status": "STOPPED"}).content.decode()
    assert "No machines match." in html
    response = physicist_client.get(url, {"status": "NONSENSE"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


def test_create_form_shows_rule_sizes_and_quota(physics, physicist_client, ssh_key):
    response = physicist_client.get(reverse("machines:machine-create", args=[physics.pk]))
    html = response.content.decode()
    assert "1 to 255 characters, unique in the tenancy" in html
    assert "small: 1 CPU, 2 GB RAM, 20 GB disk" in html
    assert 'data-quota="cpus"' in html
    assert "laptop" in html  # the user's SSH key is offered


def test_quota_panel_projects_the_chosen_size(physics, physicist_client, catalogue, cloud):
    quota_set(physics, cpus=4)
    xlarge = next(s["id"] for s in catalogue.sizes if s["name"] == "xlarge")
    html = physicist_client.get(
        reverse("machines:machine-create-quotas", args=[physics.pk]), {"size": xlarge}
    ).content.decode()
    assert "0 → <strong>8</strong> of 4" in html
    assert "Over the limit" in html


def test_create_posts_and_redirects_with_the_machine_building(physics, physicist_client, ubuntu, small, ssh_key):
    response = physicist_client.post(
        reverse("machines:machine-create", args=[physics.pk]),
        {"name": "sim-1", "image": ubuntu, "size": small, "ssh_key": ssh_key.pk, "console": "on"},
        follow=True,
    )
    html = response.content.decode()
    assert "Creating sim-1" in html
    machine = Machine.objects.get(name="sim-1")
    assert (machine.task, machine.key_fingerprint, machine.console_enabled) == ("building", ssh_key.fingerprint, True)
    assert Job.objects.filter(kind="machines.create").count() == 1


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"name": "x" * 256}, "name", "Ensure this value has at most 255 characters"),
        ({"size": "no-such-size"}, "size", "Select a valid choice."),
    ],
)
def test_create_bad_input_rerenders_the_form_and_stores_nothing(
    physics, physicist_client, ubuntu, small, data, field, message
):
    post = {"name": "ok", "image": ubuntu, "size": small, "console": "on", **data}
    response = physicist_client.post(reverse("machines:machine-create", args=[physics.pk]), post)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Machine.objects.exists()
    assert not Job.objects.exists()


def test_create_over_quota_is_refused_with_the_reason(physics, physicist_client, ubuntu, small, cloud):
    quota_set(physics, machines=0)
    response = physicist_client.post(
        reverse("machines:machine-create", args=[physics.pk]), {"name": "one", "image": ubuntu, "size": small}
    )
    assert response.status_code == 400
    assert "over the tenancy&#x27;s quota" in response.content.decode()
    assert not Machine.objects.exists()


def test_detail_offers_only_valid_actions_and_they_work(physics, physicist, physicist_client, ubuntu, small):
    machine = create(physics, physicist, ubuntu, small)
    run_latest(machine)
    url = reverse("machines:machine-detail", args=[physics.pk, machine.pk])
    html = physicist_client.get(url).content.decode()
    assert f"machines/{machine.pk}/stop/" in html
    assert f"machines/{machine.pk}/start/" not in html
    # Starting an active machine is refused with the reason, nothing queued.
    response = physicist_client.post(
        reverse("machines:machine-action", args=[physics.pk, machine.pk, "start"]), follow=True
    )
    assert "can be started only when stopped" in response.content.decode()
    assert not Job.objects.filter(kind="machines.start").exists()
    response = physicist_client.post(
        reverse("machines:machine-action", args=[physics.pk, machine.pk, "stop"]), follow=True
    )
    assert "Stop analysis-1: job #" in response.content.decode()
    assert (
        physicist_client.post(reverse("machines:machine-action", args=[physics.pk, machine.pk, "explode"])).status_code
        == 404
    )


def test_delete_asks_for_confirmation_naming_the_machine(physics, physicist, physicist_client, ubuntu, small):
    machine = create(physics, physicist, ubuntu, small)
    run_latest(machine)
    url = reverse("machines:machine-delete", args=[physics.pk, machine.pk])
    html = physicist_client.get(url).content.decode()
    assert "Delete analysis-1?" in html
    physicist_client.post(url)
    assert run_latest(machine).state == Job.State.SUCCEEDED
    assert not Machine.objects.exists()


def test_console_log_and_console_page(physics, physicist, physicist_client, ubuntu, small):
    machine = create(physics, physicist, ubuntu, small)
    run_latest(machine)
    log = physicist_client.get(reverse("machines:machine-logs", args=[physics.pk, machine.pk])).content.decode()
    assert "analysis-1" in log
    page = physicist_client.get(reverse("machines:machine-console", args=[physics.pk, machine.pk]))
    assert page.status_code == 200
    assert "serial console" in page.content.decode()


def test_console_of_a_machine_made_without_one_is_refused(physics, physicist, physicist_client, ubuntu, small):
    machine = create(physics, physicist, ubuntu, small, console=False)
    run_latest(machine)
    response = physicist_client.get(reverse("machines:machine-console", args=[physics.pk, machine.pk]), follow=True)
    assert "was created without a web console" in response.content.decode()


def test_volumes_page_creates_and_refuses_bad_sizes(physics, physicist_client):
    url = reverse("machines:volume-list", args=[physics.pk])
    response = physicist_client.post(url, {"name": "data", "size_gb": "0"})
    assert response.status_code == 400
    assert "greater than or equal to 1" in response.content.decode()
    response = physicist_client.post(url, {"name": "data", "size_gb": "20"}, follow=True)
    volume = Volume.objects.get()
    job = Job.objects.get(target_id=str(volume.pk), kind="machines.volume_create")
    job_url = reverse("jobs:detail", args=[physics.pk, job.pk])
    assert f'Creating the volume data: job #{job.pk} started. <a class="alert-link" href="{job_url}">Follow it</a>' in (
        response.content.decode()
    )
    run_latest(volume)
    assert "Available" in physicist_client.get(url).content.decode()


def test_external_ips_page_allocates(physics, physicist_client):
    url = reverse("machines:external-ip-list", args=[physics.pk])
    response = physicist_client.post(reverse("machines:external-ip-allocate", args=[physics.pk]), follow=True)
    assert "Allocating an external IP" in response.content.decode()
    assert "allocating…" in physicist_client.get(url).content.decode()


def test_tenancy_overview_counts_machines(physics, physicist, physicist_client, ubuntu, small):
    create(physics, physicist, ubuntu, small)
    html = physicist_client.get(reverse("tenancies:detail", args=[physics.pk])).content.decode()
    assert "1 build" in html
    assert "All 1 machine" in html


def test_the_list_page_makes_the_same_queries_for_5_and_50_machines(physics, physicist, physicist_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse("machines:machine-list", args=[physics.pk])

    def add(count: int) -> None:
        start = Machine.objects.count()
        MachineFactory.create_batch(
            count, tenancy=physics, name=factory.Sequence(lambda i: f"m{start + i}"), created_by=physicist
        )

    add(5)
    physicist_client.get(url)
    with CaptureQueriesContext(connection) as five:
        physicist_client.get(url)
    add(45)
    with CaptureQueriesContext(connection) as fifty:
        html = physicist_client.get(url).content.decode()
    assert html.count('id="machine-row-') == 50
    assert len(fifty) == len(five), [q["sql"] for q in fifty.captured_queries]


def test_a_rows_links_are_its_routes_and_its_live_render_is_the_pages_row(physics, physicist_client, catalogue):
    """Rows build their links from the tenancy's URLs reversed once: they must be the routes'
    URLs, and the live row (apps.machines.live) the same markup as the page's."""
    from apps.jobs.live import live_resources

    active = MachineFactory(tenancy=physics, name="with-ip")
    ip = ExternalIpFactory(tenancy=physics, machine=active)
    stopped = MachineFactory(tenancy=physics, name="stopped", status="STOPPED")
    listed = reverse("machines:machine-list", args=[physics.pk])
    html = physicist_client.get(listed).content.decode()

    def row(machine: Machine) -> str:
        found = re.search(rf'<tr id="machine-row-{machine.pk}">.*?</tr>', html, re.S)
        assert found, html
        return found.group(0)

    links = set(re.findall(r'(?:href|action)="([^"]+)"', row(active)))
    at = [physics.pk, active.pk]
    assert links == {
        reverse("machines:machine-detail", args=at),
        reverse("machines:machine-console", args=at),
        reverse("machines:machine-action", args=[*at, "stop"]),
        reverse("machines:machine-action", args=[*at, "restart"]),
        reverse("machines:machine-delete", args=at),
        reverse("machines:external-ip-detach", args=[physics.pk, ip.pk]) + f"?next={listed}",
    }
    assert f'name="next" value="{listed}"' in row(active)
    links = set(re.findall(r'(?:href|action)="([^"]+)"', row(stopped)))
    at = [physics.pk, stopped.pk]
    assert links == {
        reverse("machines:machine-detail", args=at),
        reverse("machines:machine-detail", args=at) + "#machine-attachments",
        reverse("machines:machine-action", args=[*at, "start"]),
        reverse("machines:machine-delete", args=at),
    }

    def without_csrf(row: str) -> str:  # a live row has no request, so no token (htmx sends the page's)
        return re.sub(r'<input type="hidden" name="csrfmiddlewaretoken" value="[^"]*">', "", row)

    live = live_resources()["machine"].rows(physics.pk, [active.pk, stopped.pk])
    for machine in (active, stopped):
        assert live[machine.pk].strip() == without_csrf(row(machine))


def test_the_menu_offers_volumes_and_ips_only_where_the_cloud_has_them(physics, physicist_client, catalogue):
    overview = reverse("tenancies:detail", args=[physics.pk])
    volumes, ips = (
        reverse("machines:volume-list", args=[physics.pk]),
        reverse("machines:external-ip-list", args=[physics.pk]),
    )
    html = physicist_client.get(overview).content.decode()
    assert f'href="{volumes}"' in html
    assert f'href="{ips}"' in html
    # A cloud without Cinder (like the OpenStack CI runs against): the catalogue says so, the menu follows.
    offers(physics, volumes=False)
    html = physicist_client.get(overview).content.decode()
    assert f'href="{volumes}"' not in html
    assert f'href="{ips}"' in html


def test_machine_pages_do_not_wait_for_the_cloud_when_the_catalogue_is_old(
    physics, physicist, physicist_client, ubuntu, small, catalogue, cloud
):
    from datetime import timedelta

    from django.utils import timezone

    from apps.catalogue.models import Catalogue
    from apps.clouds.local.services import local_fault_inject

    machine = create(physics, physicist, ubuntu, small)
    run_latest(machine)
    Catalogue.objects.filter(tenancy=physics).update(refreshed_at=timezone.now() - timedelta(days=1))
    local_fault_inject(cloud=cloud, operation="*", kind="unreachable", message="The cloud is down.")
    # The cloud is down and the catalogue a day old: the pages still show the machine and its panels.
    for name, args in [
        ("machines:machine-detail", [physics.pk, machine.pk]),
        ("machines:external-ip-list", [physics.pk]),
        ("machines:volume-list", [physics.pk]),
    ]:
        response = physicist_client.get(reverse(name, args=args))
        assert response.status_code == 200, name
        assert "does not offer" not in response.content.decode(), name


@pytest.mark.parametrize(
    ("route", "label"),
    [("machines:machine-list", "Machines"), ("machines:volume-list", "Volumes"), ("machines:external-ip-list", "IPs")],
)
def test_the_menu_marks_the_section_you_are_in(physics, physicist_client, catalogue, route, label):
    html = physicist_client.get(reverse(route, args=[physics.pk])).content.decode()
    active = re.findall(r'<a class="nav-link active"[^>]*>\s*(?:<i[^>]*></i>\s*)?([^<]+?)\s*</a>', html)
    assert [text for text in active if label in text], active
