"""/api/v1/platform-types/: signed-in people see the types offered to their tenancies."""

import pytest
from rest_framework.test import APIClient

from tests.factories import PlatformTypeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(physicist_client):
    """The physicist, signed in (tests/conftest.py): the API takes the session too."""
    return physicist_client


@pytest.fixture
def types(physics, biology):
    everyone = PlatformTypeFactory(name="everyone", label="For everyone", available_to_all=True)
    ours = PlatformTypeFactory(name="ours", label="Physics only")
    ours.tenancies.add(physics)
    theirs = PlatformTypeFactory(name="theirs", label="Biology only")
    theirs.tenancies.add(biology)
    PlatformTypeFactory(name="nobody", label="Offered to no one")
    PlatformTypeFactory(name="refused", available_to_all=True, valid=False, error="x: version: bad")
    return everyone, ours, theirs


def test_the_list_shows_only_what_the_users_tenancies_may_use(api, types):
    body = api.get("/api/v1/platform-types/").json()
    assert [t["name"] for t in body["results"]] == ["everyone", "ours"]
    first = body["results"][0]
    assert first["url"] == "http://testserver/api/v1/platform-types/everyone/"
    assert first["parameters"] == [{"name": "motd", "kind": "string", "default": "hello"}]
    assert set(first) >= {"label", "version", "description", "logo", "ssh_key", "services", "usage", "changelog"}


def test_filtered_by_one_tenancy(api, types, physics, biology):
    assert [t["name"] for t in api.get(f"/api/v1/platform-types/?tenancy={physics.pk}").json()["results"]] == [
        "everyone",
        "ours",
    ]
    # Another tenancy's: none of its types, not even the shared ones.
    assert api.get(f"/api/v1/platform-types/?tenancy={biology.pk}").json()["results"] == []
    assert api.get("/api/v1/platform-types/?tenancy=x").status_code == 400
    assert api.get("/api/v1/platform-types/?tenancy=9223372036854775807").json()["results"] == []
    assert api.get("/api/v1/platform-types/?tenancy=9223372036854775808").status_code == 400
    assert api.get("/api/v1/platform-types/?tenancy=1.5e200").status_code == 400


def test_detail_by_name_and_another_tenancys_type_is_404(api, types):
    assert api.get("/api/v1/platform-types/ours/").json()["label"] == "Physics only"
    for name in ("theirs", "nobody", "refused", "missing"):
        response = api.get(f"/api/v1/platform-types/{name}/")
        assert response.status_code == 404, name
        assert response.json()["error"]["message"] == "No such platform type."


def test_signed_out_is_401(types):
    assert APIClient().get("/api/v1/platform-types/").status_code == 401
    assert APIClient().get("/api/v1/platform-types/everyone/").status_code == 401
