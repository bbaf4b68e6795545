"""A tenancy you are not a member of does not exist for you: 404, in the UI and the API."""

import pytest
from django.test import Client


@pytest.mark.django_db
def test_member_sees_the_tenancy_and_its_members(physicist_client: Client, physics):
    response = physicist_client.get(f"/tenancies/{physics.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Lise Meitner" in page
    assert "You are a member" in page


@pytest.mark.django_db
def test_outsider_gets_404_not_403(physicist_client: Client, biology, biologist):
    response = physicist_client.get(f"/tenancies/{biology.pk}/")
    assert response.status_code == 404
    assert "Rosalind" not in response.content.decode()


@pytest.mark.django_db
def test_missing_and_foreign_tenancies_look_the_same(physicist_client: Client, biology):
    foreign = physicist_client.get(f"/tenancies/{biology.pk}/")
    missing = physicist_client.get("/tenancies/999999/")
    assert foreign.status_code == missing.status_code == 404


@pytest.mark.django_db
def test_signed_out_visitors_are_sent_to_sign_in(client: Client, physics):
    response = client.get(f"/tenancies/{physics.pk}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.django_db
def test_staff_are_not_members_by_default(client: Client, physics):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="ops", is_staff=True))
    assert client.get(f"/tenancies/{physics.pk}/").status_code == 404  # operators use the admin


@pytest.mark.django_db
def test_tenancy_switcher_lists_mine_and_marks_the_current_one(physicist_client: Client, physics, biology):
    page = physicist_client.get(f"/tenancies/{physics.pk}/").content.decode()
    assert 'id="tenancy-switcher"' in page
    assert f'href="/tenancies/{physics.pk}/">Physics' in page
    assert "Biology" not in page


@pytest.mark.django_db
def test_api_lists_only_my_tenancies_with_my_role(client: Client, physicist, biologist, physics, biology):
    client.force_login(biologist)
    body = client.get("/api/v1/tenancies/").json()
    assert body["count"] == 1
    (only,) = body["results"]
    assert only["name"] == "Biology"
    assert only["role"] == "manager"
    assert only["cloud"]["driver"] == "local"


@pytest.mark.django_db
def test_api_me_is_the_signed_in_user(physicist_client: Client):
    body = physicist_client.get("/api/v1/me/").json()
    assert body["username"] == "physicist"
    assert body["display_name"] == "Lise Meitner"
