"""Live rows from declarations (apps.jobs.live.LiveRows): a change of a volume or an IP is
published for its own row and for the machine it is, or was, attached to; the renderers
give the machine's panel with the volume listed (or gone) and the volume's row.
Tested on the publishing side (no socket): what is sent for which object."""

import pytest
from django.urls import reverse

from apps.core.resources import services as resource_services
from apps.jobs.live import live_resources
from apps.machines import services

from .test_services import run_latest


@pytest.fixture
def published(monkeypatch):
    sent: list[tuple[int, str, int]] = []

    def record(*, tenancy_id, resource, object_id, created=False):
        sent.append((tenancy_id, resource, object_id))

    monkeypatch.setattr(resource_services, "resource_changed_publish", record)
    return sent


def panel(machine) -> str:
    return "".join(live_resources()["machine"].detail(machine.tenancy_id, machine.pk))


def test_a_volume_attach_re_renders_the_machines_panel_with_the_volume(
    physics, physicist, machine, volume, published, django_capture_on_commit_callbacks
):
    assert "None attached." in panel(machine)
    with django_capture_on_commit_callbacks(execute=True):
        services.volume_attach(volume=volume, machine=machine, user=physicist)
        run_latest(volume)
    assert (physics.pk, "machine", machine.pk) in published
    assert (physics.pk, "volume", volume.pk) in published
    html = panel(machine)
    assert 'id="machine-attachments" hx-boost="true" hx-swap-oob="true"' in html
    assert 'data-volume="data-1"' in html
    assert "None attached." not in html
    row = live_resources()["volume"].rows(physics.pk, [volume.pk])[volume.pk]
    assert row.lstrip().startswith(f'<tr id="volume-row-{volume.pk}">')
    assert "web" in row


def test_a_detach_re_renders_the_machine_the_volume_left(
    physics, physicist, machine, volume, published, django_capture_on_commit_callbacks
):
    services.volume_attach(volume=volume, machine=machine, user=physicist)
    run_latest(volume)
    services.volume_detach(volume=volume, user=physicist)
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        run_latest(volume)  # the job loads the volume attached and stores it detached
    volume.refresh_from_db()
    assert volume.machine_id is None
    assert (physics.pk, "machine", machine.pk) in published
    html = panel(machine)
    assert "detaching" not in html
    assert "None attached." in html


def test_an_ip_change_is_published_for_its_machine_and_rows_only_of_the_tenancy(
    physics, biology, physicist, machine, published, django_capture_on_commit_callbacks
):
    ip = services.external_ip_allocate(tenancy=physics, user=physicist).row
    run_latest(ip)
    with django_capture_on_commit_callbacks(execute=True):
        services.external_ip_attach(ip=ip, machine=machine, user=physicist)
        run_latest(ip)
    assert (physics.pk, "externalip", ip.pk) in published
    assert (physics.pk, "machine", machine.pk) in published
    rows = live_resources()["externalip"]
    assert set(rows.rows(physics.pk, [ip.pk])) == {ip.pk}
    assert rows.rows(biology.pk, [ip.pk]) == {}  # another tenancy's id renders nothing
    assert rows.row_id(ip.pk) == f"externalip-row-{ip.pk}"


def test_the_machines_page_lists_the_jobs_that_attached_and_detached_its_volume(
    physics, physicist, physicist_client, machine, volume
):
    """Where the job is: attaching or detaching a volume shows among the machine's jobs,
    and the detach stays listed there after the volume has left."""
    attach = services.volume_attach(volume=volume, machine=machine, user=physicist)
    run_latest(volume)
    detach = services.volume_detach(volume=volume, user=physicist)
    run_latest(volume)
    page = physicist_client.get(reverse("machines:machine-detail", args=[physics.pk, machine.pk])).content.decode()
    for job in (attach, detach):
        assert reverse("jobs:detail", args=[physics.pk, job.pk]) in page
    assert "Attach volume" in page
    assert "Detach volume" in page
