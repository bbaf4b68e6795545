"""The machine list and page stay live over the tenancy websocket (real ASGI app,
the configured channel layer: Redis, or the in-memory one with database polling)."""

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.jobs.models import Job
from apps.jobs.runner import job_run
from apps.machines import services
from apps.machines.models import Machine
from tests.sockets import live_path, opened, receive_until, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_list_gets_a_row_for_a_new_machine_then_its_changes_then_its_removal(
    physics, physicist, biology, biologist, ubuntu, small
):
    cookie = session_cookie(physicist)
    outsider = session_cookie(biologist)

    async def scenario():
        async with (
            opened(f"/ws/tenancies/{physics.pk}/?machines=&new_machines=1", cookie) as page,
            opened(f"/ws/tenancies/{biology.pk}/?machines=&new_machines=1", outsider) as other,
        ):
            machine, _ = await sync_to_async(services.machine_create)(
                tenancy=physics, user=physicist, name="live-1", image_id=ubuntu, size_id=small
            )
            html = await receive_until(page, f'id="machine-row-{machine.pk}"')
            assert '<tbody id="machine-rows" hx-swap-oob="afterbegin">' in html
            assert "Building" in html

            job = await sync_to_async(Job.objects.get)()
            await sync_to_async(job_run)(job.pk)
            html = await receive_until(page, 'data-status="ACTIVE"')
            assert f'<tr hx-swap-oob="true" id="machine-row-{machine.pk}">' in html

            await sync_to_async(services.machine_delete)(machine=machine, user=physicist)
            delete_job = await sync_to_async(Job.objects.latest)("pk")
            await sync_to_async(job_run)(delete_job.pk)
            html = await receive_until(page, 'hx-swap-oob="delete"')
            assert f'<tr id="machine-row-{machine.pk}" hx-swap-oob="delete"></tr>' in html

            # The other tenancy's page heard nothing of it.
            assert await other.receive_nothing(timeout=0.5)

    async_to_sync(scenario)()


def test_the_machine_page_shows_a_new_job_as_it_is_asked_for(physics, physicist, ubuntu, small):
    cookie = session_cookie(physicist)
    machine = services.machine_create(
        tenancy=physics, user=physicist, name="live-page", image_id=ubuntu, size_id=small
    ).row
    job_run(Job.objects.get().pk)
    machine.refresh_from_db()

    async def scenario():
        async with opened(f"/ws/tenancies/{physics.pk}/?machine={machine.pk}", cookie) as page:
            # Asked for elsewhere (another tab, the API): the page's jobs table gains it.
            rule, _ = await sync_to_async(services.firewall_rule_add)(
                machine=machine, user=physicist, protocol="tcp", port_min=8888
            )
            html = await receive_until(page, 'id="machine-jobs"')
        job = await sync_to_async(Job.objects.latest)("pk")
        assert f"#{job.pk}" in html
        assert "Add firewall rule" in html
        assert rule.description in html  # and the rule, being added

    async_to_sync(scenario)()


@pytest.mark.parametrize(
    ("what", "label"),
    [
        ("volume attach", "Attach volume"),
        ("volume detach", "Detach volume"),
        ("IP attach", "Attach external IP"),
        ("IP detach", "Detach external IP"),
    ],
)
def test_the_machine_page_shows_a_new_job_of_its_attachments_as_it_is_asked_for(
    physics, physicist, machine, volume, what, label
):
    """An attach names the machine only in its job until the cloud has attached (a detach starts
    on a row that names it): the machine's page gains either job as it is asked for."""
    cookie = session_cookie(physicist)
    ip = services.external_ip_allocate(tenancy=physics, user=physicist).row
    job_run(Job.objects.latest("pk").pk)
    ip.refresh_from_db()
    if what.endswith("detach"):
        if what.startswith("volume"):
            job_run(services.volume_attach(volume=volume, machine=machine, user=physicist).pk)
        else:
            job_run(services.external_ip_attach(ip=ip, machine=machine, user=physicist).pk)
        volume.refresh_from_db()
        ip.refresh_from_db()
    # The machine last changed a while ago (a page polling the database sees no change of it but the job's).
    Machine.objects.filter(pk=machine.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    start = {
        "volume attach": lambda: services.volume_attach(volume=volume, machine=machine, user=physicist),
        "volume detach": lambda: services.volume_detach(volume=volume, user=physicist),
        "IP attach": lambda: services.external_ip_attach(ip=ip, machine=machine, user=physicist),
        "IP detach": lambda: services.external_ip_detach(ip=ip, user=physicist),
    }[what]

    async def scenario() -> tuple[Job, str]:
        async with opened(f"/ws/tenancies/{physics.pk}/?machine={machine.pk}", cookie) as page:
            job = await sync_to_async(start)()
            html = await receive_until(page, 'id="machine-jobs"')
            return job, html.split('id="machine-jobs"')[1]

    job, jobs = async_to_sync(scenario)()
    newest = jobs.split('id="job-row-')[1]  # the top row of the machine's jobs
    assert newest.startswith(f'{job.pk}"')
    assert label in newest.split("</tr>")[0]


def test_a_machine_deleted_before_the_page_connects_still_leaves_the_list(physics, physicist, ubuntu, small):
    """Under load the delete job can end between the list's render and its socket joining
    the group; the page then showed the gone machine until reloaded."""
    machine = services.machine_create(
        tenancy=physics, user=physicist, name="gone-early", image_id=ubuntu, size_id=small
    ).row
    job_run(Job.objects.get().pk)
    browser = Client()
    browser.force_login(physicist)
    path = live_path(browser.get(reverse("machines:machine-list", args=[physics.pk])).content.decode())
    services.machine_delete(machine=machine, user=physicist)
    job_run(Job.objects.latest("pk").pk)  # its event goes to no one: the page is not connected yet
    cookie = session_cookie(physicist)

    async def scenario():
        async with opened(path, cookie) as page:
            return await receive_until(page, 'hx-swap-oob="delete"')

    html = async_to_sync(scenario)()
    assert f'<tr id="machine-row-{machine.pk}" hx-swap-oob="delete"></tr>' in html
