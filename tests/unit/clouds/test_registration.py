"""Operators register an OpenStack cloud and map projects to tenancies from clouds.yaml entries."""

import tempfile
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from apps.tenancies.models import Cloud, Tenancy

SECRET = "app-cred-secret-81c2"


@pytest.fixture
def clouds_yaml(tmp_path):
    path = tmp_path / "clouds.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "clouds": {
                    "research": {
                        "auth_type": "v3applicationcredential",
                        "auth": {
                            "auth_url": "https://keystone.example.ac.uk:5000/v3",
                            "application_credential_id": "ac-physics",
                            "application_credential_secret": SECRET,
                        },
                        "region_name": "RegionTwo",
                        "interface": "public",
                        "verify": False,
                    },
                    "broken": {"auth": {"username": "x"}},
                }
            }
        )
    )
    return str(path)


@pytest.mark.django_db
def test_a_cloud_is_registered_from_a_clouds_yaml_entry(clouds_yaml, capsys):
    call_command("cloud_register", "Research cloud", "--clouds-yaml", clouds_yaml, "--cloud", "research")
    cloud = Cloud.objects.get(name="Research cloud")
    assert cloud.driver == "openstack"
    assert cloud.endpoint == "https://keystone.example.ac.uk:5000/v3"
    assert cloud.options == {"interface": "public", "region_name": "RegionTwo", "verify": False}
    assert cloud.credentials["application_credential_secret"] == SECRET
    assert SECRET not in capsys.readouterr().out  # never printed
    call_command(
        "cloud_register", "Research cloud", "--clouds-yaml", clouds_yaml, "--cloud", "research", "--without-credentials"
    )
    assert Cloud.objects.count() == 1


@pytest.mark.django_db
def test_a_project_is_mapped_to_a_tenancy_with_its_application_credential(clouds_yaml):
    call_command(
        "cloud_register", "Research cloud", "--clouds-yaml", clouds_yaml, "--cloud", "research", "--without-credentials"
    )
    call_command(
        "tenancy_register", "Physics", "--cloud", "Research cloud", "--project-id", "p-123",
        "--credentials-from", clouds_yaml, "--credentials-cloud", "research",
    )  # fmt: skip
    tenancy = Tenancy.objects.get(name="Physics")
    assert (tenancy.project_id, tenancy.cloud.name) == ("p-123", "Research cloud")
    assert tenancy.credentials == {"application_credential_id": "ac-physics", "application_credential_secret": SECRET}
    call_command("tenancy_register", "Physics", "--cloud", "Research cloud", "--project-id", "p-456")
    tenancy.refresh_from_db()
    assert tenancy.project_id == "p-456"
    assert tenancy.credentials["application_credential_id"] == "ac-physics"  # kept


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cloud", "nowhere"], "nowhere"),
        (["--cloud", "broken"], "auth_url"),
    ],
)
def test_bad_entries_are_refused_and_nothing_is_stored(clouds_yaml, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("cloud_register", "X", "--clouds-yaml", clouds_yaml, *args)
    assert not Cloud.objects.exists()


@pytest.mark.django_db
def test_mapping_to_an_unknown_cloud_or_a_taken_project_is_refused(clouds_yaml):
    with pytest.raises(CommandError, match="No cloud named"):
        call_command("tenancy_register", "Physics", "--cloud", "Nope", "--project-id", "p-1")
    call_command("cloud_register", "R", "--clouds-yaml", clouds_yaml, "--cloud", "research")
    call_command("tenancy_register", "Physics", "--cloud", "R", "--project-id", "p-1")
    with pytest.raises(CommandError, match="already the tenancy Physics"):
        call_command("tenancy_register", "Chemistry", "--cloud", "R", "--project-id", "p-1")
    assert Tenancy.objects.count() == 1


@pytest.mark.django_db
def test_a_federated_cloud_keeps_no_credentials(clouds_yaml, capsys):
    call_command("cloud_register", "Research cloud", "--clouds-yaml", clouds_yaml, "--cloud", "research")
    register = ["cloud_register", "Research cloud", "--clouds-yaml", clouds_yaml, "--cloud", "research"]
    call_command(*register, "--federated", "uni-idp")
    cloud = Cloud.objects.get(name="Research cloud")
    assert cloud.options["auth"] == "federated"
    assert (cloud.options["identity_provider"], cloud.options["protocol"]) == ("uni-idp", "openid")
    assert cloud.credentials == {}  # the secret registered before is gone
    assert "per-user federation through uni-idp/openid" in capsys.readouterr().out


# --- the same in the admin ------------------------------------------------------------------------


@pytest.fixture
def operator_client(db):
    from django.test import Client

    from tests.factories import UserFactory

    client = Client()
    client.force_login(UserFactory(username="ops", is_staff=True, is_superuser=True))
    return client


def test_the_admin_registers_a_cloud_from_a_pasted_clouds_yaml(operator_client, clouds_yaml):
    listing = operator_client.get("/admin/tenancies/cloud/").content.decode()
    assert "/admin/tenancies/cloud/register/" in listing  # the button on the clouds list
    form = {
        "name": "Research cloud",
        "clouds_yaml": Path(clouds_yaml).read_text(),
        "entry": "research",
        "protocol": "openid",
    }
    response = operator_client.post("/admin/tenancies/cloud/register/", form)
    cloud = Cloud.objects.get(name="Research cloud")
    assert response.status_code == 302
    assert response["Location"] == f"/admin/tenancies/cloud/{cloud.pk}/change/"
    assert (cloud.endpoint, cloud.options["region_name"]) == ("https://keystone.example.ac.uk:5000/v3", "RegionTwo")
    assert cloud.credentials == {}  # tenancies bring their own unless the operator keeps the entry's

    operator_client.post("/admin/tenancies/cloud/register/", {**form, "with_credentials": "on"})
    assert Cloud.objects.get().credentials["application_credential_secret"] == SECRET
    operator_client.post("/admin/tenancies/cloud/register/", {**form, "federated": "uni-idp"})
    cloud = Cloud.objects.get()
    assert (cloud.options["auth"], cloud.options["identity_provider"], cloud.credentials) == (
        "federated",
        "uni-idp",
        {},
    )


@pytest.mark.parametrize(
    ("text", "entry", "message"),
    [
        ("clouds: {research: {auth: {username: x}}}", "research", "auth_url"),
        ("clouds: {}", "research", "Cannot read cloud"),
        ("clouds: [not, a, mapping", "research", "Cannot read cloud"),
    ],
)
def test_the_admin_shows_what_is_wrong_with_a_pasted_clouds_yaml(operator_client, text, entry, message):
    form = {"name": "X", "clouds_yaml": text, "entry": entry, "protocol": "openid"}
    response = operator_client.post("/admin/tenancies/cloud/register/", form)
    page = response.content.decode()
    assert response.status_code == 200
    assert message in page
    assert tempfile.gettempdir() not in page  # names what was pasted, not where Atrium put it
    assert text.split(":")[0] in page  # the pasted text is kept in the form
    assert not Cloud.objects.exists()


def test_checking_access_reports_each_tenancy(operator_client):
    from apps.clouds.local.seed import local_cloud_seed
    from tests.factories import CloudFactory, TenancyFactory

    local = CloudFactory(name="Local", driver=Cloud.Driver.LOCAL)
    local_cloud_seed(local, projects=["physics"])
    physics = TenancyFactory(name="Physics", cloud=local, project_id="physics")
    nowhere = CloudFactory(name="Gone", driver=Cloud.Driver.OPENSTACK, endpoint="http://127.0.0.1:9/v3")
    chemistry = TenancyFactory(
        name="Chemistry",
        cloud=nowhere,
        project_id="p-1",
        credentials={"application_credential_id": "a", "application_credential_secret": "b"},
    )
    response = operator_client.post(
        "/admin/tenancies/tenancy/",
        {"action": "check_access", "_selected_action": [physics.pk, chemistry.pk]},
        follow=True,
    )
    shown = [str(m) for m in response.context["messages"]]
    assert any(m.startswith("Physics: reached project physics (0 of") for m in shown), shown
    assert any(m.startswith("Chemistry: The cloud could not be reached") for m in shown), shown
