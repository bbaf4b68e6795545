"""Every destructive action of the pages asks first (apps.core.confirm): GET names what goes
and changes nothing, POST does it, another tenancy's object is 404, other methods 405."""

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.models import ApiToken, SshPublicKey
from apps.accounts.services import api_token_create
from apps.jobs.models import Job
from apps.machines import services
from apps.machines.models import ExternalIp, Volume

from .test_services import create, run_latest


@pytest.fixture
def ip(physics, physicist):
    ip = services.external_ip_allocate(tenancy=physics, user=physicist).row
    run_latest(ip)
    ip.refresh_from_db()
    return ip


def attach(volume, machine, user):
    services.volume_attach(volume=volume, machine=machine, user=user)
    run_latest(volume)
    volume.refresh_from_db()


def test_volume_delete_names_the_volume_and_its_size_then_deletes_only_on_post(physics, physicist_client, volume):
    url = reverse("machines:volume-delete", args=[physics.pk, volume.pk])
    page = physicist_client.get(url)
    html = page.content.decode()
    assert page.status_code == 200
    assert "Delete the volume data-1 (20 GB)?" in html
    assert "Its data (20 GB) is lost." in html
    assert ">Delete data-1</button>" in html
    assert Volume.objects.get().task == ""  # asking changed nothing
    assert not Job.objects.filter(kind="machines.volume_delete").exists()

    response = physicist_client.post(url, follow=True)
    assert "Deleting data-1: job #" in response.content.decode()
    run_latest(volume)
    assert not Volume.objects.exists()


def test_the_volumes_page_links_to_the_confirmation_rather_than_posting(physics, physicist_client, volume):
    html = physicist_client.get(reverse("machines:volume-list", args=[physics.pk])).content.decode()
    url = reverse("machines:volume-delete", args=[physics.pk, volume.pk])
    assert f'href="{url}"' in html
    assert f'action="{url}"' not in html


def test_an_attached_volume_says_so_and_offers_no_delete_button(physics, physicist, physicist_client, volume, machine):
    attach(volume, machine, physicist)
    html = physicist_client.get(reverse("machines:volume-delete", args=[physics.pk, volume.pk])).content.decode()
    assert "It is attached to the machine web: detach it first." in html
    assert ">Delete data-1</button>" not in html

    detach = reverse("machines:volume-detach", args=[physics.pk, volume.pk])
    back = reverse("machines:machine-detail", args=[physics.pk, machine.pk])
    html = physicist_client.get(f"{detach}?next={back}").content.decode()
    assert "Detach the volume data-1 (20 GB) from web?" in html
    assert f'href="{back}"' in html  # "Keep it" goes back to the machine's page
    response = physicist_client.post(f"{detach}?next={back}")
    assert response.status_code == 302
    assert response["Location"] == back
    assert Volume.objects.get().task == "detaching"


def test_ip_release_and_detach_name_the_address_and_the_machine(physics, physicist, physicist_client, ip, machine):
    release = reverse("machines:external-ip-release", args=[physics.pk, ip.pk])
    html = physicist_client.get(release).content.decode()
    assert f"Release the external IP {ip.address}?" in html
    assert "may not get the same one again" in html

    services.external_ip_attach(ip=ip, machine=machine, user=physicist)
    run_latest(ip)
    detach = reverse("machines:external-ip-detach", args=[physics.pk, ip.pk])
    html = physicist_client.get(detach).content.decode()
    assert f"Detach the external IP {ip.address} from web?" in html
    assert ExternalIp.objects.get().task == ""
    physicist_client.post(detach)
    assert ExternalIp.objects.get().task == "detaching"


def test_machine_delete_names_what_goes_with_it(physics, physicist, physicist_client, machine, volume):
    attach(volume, machine, physicist)
    html = physicist_client.get(reverse("machines:machine-delete", args=[physics.pk, machine.pk])).content.decode()
    assert "Delete web?" in html
    assert "Its volumes are detached first and kept: data-1 (20 GB)." in html


def test_another_tenancys_objects_are_404_on_get_and_post(biology, biologist, physics, volume, ip):
    client = Client()
    client.force_login(biologist)
    for name, obj in [("machines:volume-delete", volume), ("machines:external-ip-release", ip)]:
        for url in (reverse(name, args=[physics.pk, obj.pk]), reverse(name, args=[biology.pk, obj.pk])):
            assert client.get(url).status_code == 404
            assert client.post(url).status_code == 404
    assert Volume.objects.get().task == ""
    assert ExternalIp.objects.get().task == ""


def test_other_methods_are_refused(physics, physicist_client, volume):
    url = reverse("machines:volume-delete", args=[physics.pk, volume.pk])
    assert physicist_client.put(url).status_code == 405
    assert physicist_client.delete(url).status_code == 405
    assert Volume.objects.get().task == ""


def test_ssh_key_removal_and_token_revoke_ask_first(physicist, physicist_client, biologist, ssh_key):
    token, _ = api_token_create(user=physicist, name="ci")
    for url, question, button in [
        (
            reverse("accounts:ssh-key-delete", args=[ssh_key.pk]),
            f"Remove the SSH key “laptop” ({ssh_key.fingerprint})?",
            "Remove laptop",
        ),
        (
            reverse("accounts:token-revoke", args=[token.token_key]),
            f"Revoke the API token “ci” ({token.token_key}…)?",
            "Revoke ci",
        ),
    ]:
        html = physicist_client.get(url).content.decode()
        assert question in html
        assert f">{button}</button>" in html
        outsider = Client()
        outsider.force_login(biologist)
        assert outsider.get(url).status_code == 404
        assert outsider.post(url).status_code == 404
    assert SshPublicKey.objects.count() == 1
    assert ApiToken.objects.count() == 1
    physicist_client.post(reverse("accounts:ssh-key-delete", args=[ssh_key.pk]))
    physicist_client.post(reverse("accounts:token-revoke", args=[token.token_key]))
    assert SshPublicKey.objects.count() == 0
    assert ApiToken.objects.count() == 0
    keys = physicist_client.get(reverse("accounts:ssh-keys")).content.decode()
    assert '<form method="post" action="/accounts/ssh-keys/' not in keys


def test_the_machines_table_offers_per_row_only_what_the_state_allows(physics, physicist, physicist_client, machine):
    from apps.machines.models import Machine

    url = reverse("machines:machine-list", args=[physics.pk])
    menu = physicist_client.get(url).content.decode().split("data-machine-actions", 1)[1].split("</ul>", 1)[0]
    assert ">Start</button>" not in menu
    assert "Stop</button>" in menu
    assert "Restart</button>" in menu
    assert f'href="{reverse("machines:machine-delete", args=[physics.pk, machine.pk])}"' in menu  # the confirmation
    assert "Give it an external IP" in menu
    assert f'href="{reverse("machines:machine-console", args=[physics.pk, machine.pk])}"' in menu

    Machine.objects.filter(pk=machine.pk).update(status="STOPPED")
    menu = physicist_client.get(url).content.decode().split("data-machine-actions", 1)[1].split("</ul>", 1)[0]
    assert "Start</button>" in menu
    assert "Stop</button>" not in menu
    assert "Console" not in menu

    Machine.objects.filter(pk=machine.pk).update(task="stopping")
    assert "data-machine-actions" not in physicist_client.get(url).content.decode()  # busy: nothing to offer
    action = reverse("machines:machine-action", args=[physics.pk, machine.pk, "start"])
    Machine.objects.filter(pk=machine.pk).update(task="")
    response = physicist_client.post(action, {"next": url})
    assert response["Location"] == url  # back to the list the menu was on


def test_flash_links_to_the_job_and_the_job_links_to_its_object(physics, physicist, physicist_client, machine):
    response = physicist_client.post(
        reverse("machines:machine-action", args=[physics.pk, machine.pk, "restart"]), follow=True
    )
    job = Job.objects.filter(kind="machines.restart").get()
    job_url = reverse("jobs:detail", args=[physics.pk, job.pk])
    assert f'job #{job.pk} started. <a class="alert-link" href="{job_url}">Follow it</a>' in response.content.decode()
    html = physicist_client.get(job_url).content.decode()
    assert (
        f'<a href="{reverse("machines:machine-detail", args=[physics.pk, machine.pk])}" data-job-target>web</a>' in html
    )


def test_the_overview_loads_the_quota_meters_and_counts_machines_by_state(physics, physicist_client, machine):
    html = physicist_client.get(reverse("tenancies:detail", args=[physics.pk])).content.decode()
    assert f'hx-get="{reverse("machines:tenancy-quotas", args=[physics.pk])}"' in html
    assert "1 active" in html
    meters = physicist_client.get(reverse("machines:tenancy-quotas", args=[physics.pk])).content.decode()
    assert "Quota in use" in meters
    assert 'data-quota="cpus"' in meters
    assert "→" not in meters  # nothing projected: what is in use


def test_the_machine_page_says_how_to_connect(physics, physicist, physicist_client, ubuntu, small, ssh_key):
    machine = create(physics, physicist, ubuntu, small, name="login", ssh_key=ssh_key)
    url = reverse("machines:machine-detail", args=[physics.pk, machine.pk])
    assert "data-connect" not in physicist_client.get(url).content.decode()  # no address yet
    run_latest(machine)
    machine.refresh_from_db()
    html = physicist_client.get(url).content.decode()
    assert f'value="ssh ubuntu@{machine.internal_ip}"' in html
    assert "with your key “laptop”" in html
    assert 'data-copy="#connect-command"' in html
    assert "on the tenancy's network" in html  # no external IP
