"""Cloud credentials: encrypted at rest, write-only in the admin, never in the API."""

import pytest
from django.db import connection
from django.test import Client

from apps.tenancies.models import Cloud
from tests.factories import CloudFactory, UserFactory

SECRET = "app-cred-secret-4f9b2c"


@pytest.fixture
def operator_client(db) -> Client:
    client = Client()
    client.force_login(UserFactory(username="ops", is_staff=True, is_superuser=True))
    return client


@pytest.mark.django_db
def test_credentials_are_encrypted_in_the_database():
    cloud = CloudFactory(name="Research cloud", credentials={"application_credential_secret": SECRET})
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM tenancies_cloud WHERE id = %s", [cloud.pk])
        (raw,) = cursor.fetchone()
    assert SECRET not in raw
    assert Cloud.objects.get(pk=cloud.pk).credentials == {"application_credential_secret": SECRET}


@pytest.mark.django_db
def test_the_admin_sets_credentials_but_never_shows_them(operator_client: Client):
    cloud = CloudFactory(name="Research cloud", credentials={"application_credential_secret": SECRET})
    url = f"/admin/tenancies/cloud/{cloud.pk}/change/"
    page = operator_client.get(url).content.decode()
    assert SECRET not in page
    assert "application_credential_secret (values hidden)" in page

    form = {"name": "Research cloud", "driver": "openstack", "endpoint": "", "options": "{}", "description": ""}
    operator_client.post(url, {**form, "new_credentials": ""})
    assert Cloud.objects.get(pk=cloud.pk).credentials == {"application_credential_secret": SECRET}  # kept

    operator_client.post(
        url,
        {**form, "new_credentials": '{"application_credential_id": "id-2", "application_credential_secret": "s-2"}'},
    )
    assert Cloud.objects.get(pk=cloud.pk).credentials == {
        "application_credential_id": "id-2",
        "application_credential_secret": "s-2",
    }


@pytest.mark.django_db
def test_bad_credentials_json_is_refused_and_nothing_is_lost(operator_client: Client):
    cloud = CloudFactory(name="Research cloud", credentials={"application_credential_secret": SECRET})
    form = {"name": "Research cloud", "driver": "openstack", "endpoint": "", "options": "{}", "description": ""}
    response = operator_client.post(f"/admin/tenancies/cloud/{cloud.pk}/change/", {**form, "new_credentials": "{oops"})
    assert response.status_code == 200
    assert "Not valid JSON" in response.content.decode()
    assert Cloud.objects.get(pk=cloud.pk).credentials == {"application_credential_secret": SECRET}


@pytest.mark.django_db
def test_the_api_never_includes_credentials(physicist_client: Client, physics):
    physics.credentials = {"application_credential_secret": SECRET}
    physics.save()
    physics.cloud.credentials = {"application_credential_secret": SECRET}
    physics.cloud.save()
    for path in ("/api/v1/tenancies/", f"/api/v1/tenancies/{physics.pk}/", f"/tenancies/{physics.pk}/"):
        assert SECRET not in physicist_client.get(path).content.decode()
