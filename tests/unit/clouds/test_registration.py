"""Operators register an OpenStack cloud and map projects to tenancies from clouds.yaml entries."""

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
