import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.test import Client

from apps.accounts.models import SshPublicKey


def openssh(private_key, comment: str = "lise@laptop") -> str:
    line = private_key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return f"{line.decode()} {comment}"


ED25519 = openssh(ed25519.Ed25519PrivateKey.generate())


def add(client: Client, **data):
    return client.post("/api/v1/ssh-keys/", data, content_type="application/json")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("key", "key_type", "bits"),
    [
        (ED25519, "ssh-ed25519", 256),
        (openssh(rsa.generate_private_key(public_exponent=65537, key_size=3072)), "ssh-rsa", 3072),
        (openssh(ec.generate_private_key(ec.SECP256R1())), "ecdsa-sha2-nistp256", 256),
    ],
)
def test_valid_keys_are_stored_with_type_size_and_fingerprint(physicist_client: Client, key, key_type, bits):
    response = add(physicist_client, name="laptop", public_key=key)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["key_type"], body["bits"]) == (key_type, bits)
    assert body["fingerprint"].startswith("SHA256:")
    assert len(body["fingerprint"]) == len("SHA256:") + 43  # as ssh-keygen -l prints it


@pytest.mark.django_db
def test_the_comment_names_the_key_when_no_name_is_given(physicist_client: Client):
    assert add(physicist_client, public_key=ED25519).json()["name"] == "lise@laptop"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "This field may not be blank."),
        ("hello world", "not a valid OpenSSH public key"),
        ("ssh-ed25519", "Paste one line"),
        (openssh(rsa.generate_private_key(public_exponent=65537, key_size=1024)), "at least 2048 bits"),  # noqa: S505 - the weak key is the point
        ("ssh-dss AAAAB3NzaC1kc3MAAACBAP old@box", "DSA keys are insecure"),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
            "never share it",
        ),
    ],
)
def test_bad_keys_are_400_with_a_message_on_the_field(physicist_client: Client, key, message):
    response = add(physicist_client, name="bad", public_key=key)
    assert response.status_code == 400
    assert message in " ".join(response.json()["error"]["fields"]["public_key"])
    assert not SshPublicKey.objects.exists()


@pytest.mark.django_db
def test_the_same_key_twice_is_refused(physicist_client: Client):
    add(physicist_client, name="one", public_key=ED25519)
    response = add(physicist_client, name="two", public_key=ED25519)
    assert response.status_code == 400
    assert SshPublicKey.objects.count() == 1


@pytest.mark.django_db
def test_another_users_key_is_404(physicist_client: Client, biologist):
    other = Client()
    other.force_login(biologist)
    key_id = add(other, name="theirs", public_key=ED25519).json()["id"]
    assert physicist_client.get(f"/api/v1/ssh-keys/{key_id}/").status_code == 404
    assert physicist_client.delete(f"/api/v1/ssh-keys/{key_id}/").status_code == 404
    assert physicist_client.post(f"/accounts/ssh-keys/{key_id}/delete/").status_code == 404
    assert SshPublicKey.objects.filter(pk=key_id).exists()


@pytest.mark.django_db
def test_ssh_keys_page_adds_shows_fingerprint_and_removes(physicist_client: Client):
    response = physicist_client.post("/accounts/ssh-keys/", {"name": "", "public_key": ED25519}, follow=True)
    key = SshPublicKey.objects.get()
    page = response.content.decode()
    assert key.fingerprint in page
    assert "lise@laptop" in page
    physicist_client.post(f"/accounts/ssh-keys/{key.pk}/delete/")
    assert not SshPublicKey.objects.exists()


@pytest.mark.django_db
def test_ssh_keys_page_re_renders_a_bad_key_with_the_reason(physicist_client: Client):
    page = physicist_client.post("/accounts/ssh-keys/", {"name": "x", "public_key": "nonsense"}).content.decode()
    assert "Paste one line" in page
    assert "nonsense" in page  # what was typed is kept
