"""Names people give things (machines, volumes, SSH keys, API tokens) refuse control
and invisible characters, with a field message, in the API and on the pages alike
(one rule: apps.core.names)."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.models import ApiToken, SshPublicKey
from apps.machines.models import Machine, Volume

BAD_NAMES = {
    "escape": "red\x1b[31m",
    "bell": "ding\x07",
    "newline": "line\nforged log line",
    "right-to-left override": "invoice\u202etxt.exe",
    "only a zero-width space": "\u200b",
    "byte order mark": "\ufeffname",
}


def _post(client: Client, path: str, body: dict):
    return client.post(path, json.dumps(body), content_type="application/json")


def _field_error(response, field: str = "name") -> str:
    assert response.status_code == 400, response.content
    return " ".join(response.json()["error"]["fields"][field])


@pytest.mark.parametrize("name", BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_the_api_refuses_invisible_and_control_characters_in_names(physicist_client, physics, ubuntu, small, name):
    base = f"/api/v1/tenancies/{physics.pk}"
    machine = _post(physicist_client, f"{base}/machines/", {"name": name, "image_id": ubuntu, "size_id": small})
    assert "control or invisible" in _field_error(machine)
    volume = _post(physicist_client, f"{base}/volumes/", {"name": name, "size_gb": 1})
    assert "control or invisible" in _field_error(volume)
    token = _post(physicist_client, "/api/v1/tokens/", {"name": name})
    assert "control or invisible" in _field_error(token)
    assert not Machine.objects.exists()
    assert not Volume.objects.exists()
    assert not ApiToken.objects.exists()


def test_the_message_names_the_character(physicist_client, physics, ubuntu, small):
    response = _post(
        physicist_client,
        f"/api/v1/tenancies/{physics.pk}/machines/",
        {"name": "a\u202eb", "image_id": ubuntu, "size_id": small},
    )
    assert _field_error(response) == (
        "Remove the control or invisible character U+202E RIGHT-TO-LEFT OVERRIDE: names may have neither."
    )


def test_ssh_key_names_and_comments_are_checked(physicist_client, physicist, ssh_key):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    public = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    response = _post(physicist_client, "/api/v1/ssh-keys/", {"name": "laptop\u200b\u202e", "public_key": public})
    assert "control or invisible" in _field_error(response)
    # No name: the key's comment would be the name; one with a control character is not used.
    created = _post(physicist_client, "/api/v1/ssh-keys/", {"public_key": f"{public} evil\x1bcomment"})
    assert created.status_code == 201, created.content
    assert created.json()["name"] == "ssh-ed25519"
    assert SshPublicKey.objects.filter(user=physicist).count() == 2


def test_the_services_refuse_them_too(physics, physicist, ubuntu, small):
    from apps.clouds.errors import BadInput
    from apps.machines.services import machine_create, volume_create

    with pytest.raises(BadInput) as raised:
        machine_create(tenancy=physics, user=physicist, name="x\x00y", image_id=ubuntu, size_id=small)
    assert "control or invisible" in raised.value.fields["name"][0]
    with pytest.raises(BadInput):
        volume_create(tenancy=physics, user=physicist, name="\u2028", size_gb=1)


@pytest.mark.parametrize("name", BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_the_pages_re_render_with_the_field_message(physicist_client, physics, ubuntu, small, name):
    page = physicist_client.post(
        reverse("machines:machine-create", args=[physics.pk]), {"name": name, "image": ubuntu, "size": small}
    )
    assert page.status_code == 400  # the form again, with the message
    assert "control or invisible" in page.content.decode()
    tokens = physicist_client.post("/accounts/tokens/", {"name": name, "expires_in_days": ""})
    assert "control or invisible" in tokens.content.decode()
    assert not Machine.objects.exists()
    assert not ApiToken.objects.exists()


def test_ordinary_names_in_any_script_are_fine(physicist_client, physics, ubuntu, small):
    for name in ("analysis-1", "Détecteur 2", "解析 3", "név ünnep", "emoji 🧪"):
        response = _post(
            physicist_client,
            f"/api/v1/tenancies/{physics.pk}/machines/",
            {"name": name, "image_id": ubuntu, "size_id": small},
        )
        assert response.status_code == 202, (name, response.content)
