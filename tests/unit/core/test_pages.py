import pytest
from django.test import Client, override_settings
from django.urls import path

from portal import urls as portal_urls


@pytest.mark.django_db
def test_home_sends_signed_out_people_to_sign_in(client: Client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"


@pytest.mark.django_db
def test_home_lists_only_my_tenancies_with_my_role(physicist_client: Client, biology):
    page = physicist_client.get("/").content.decode()
    assert "Welcome, Lise" in page
    assert "Physics" in page
    assert "Member" in page
    assert "Biology" not in page


@pytest.mark.django_db
def test_home_without_tenancies_says_what_to_do(client: Client):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="newcomer"))
    page = client.get("/").content.decode()
    assert "You are not in any tenancy yet" in page


@pytest.mark.django_db
def test_404_page_is_in_the_portal_style(physicist_client: Client):
    response = physicist_client.get("/no/such/page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "There is nothing here." in page
    assert "atrium-navbar" in page  # the portal's layout, not Django's bare page
    assert "Back to Atrium" in page


def _boom(request):
    raise RuntimeError("a bug")


urlpatterns = [path("boom/", _boom), path("api/v1/boom/", _boom), *portal_urls.urlpatterns]
handler500 = "apps.core.views.server_error"  # as in portal/urls.py


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__)
def test_500_page_renders_without_the_request_context():
    client = Client(raise_request_exception=False)
    response = client.get("/boom/")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__)
def test_500_under_api_is_json():
    client = Client(raise_request_exception=False)
    response = client.get("/api/v1/boom/")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"


@pytest.mark.django_db
def test_pages_send_a_strict_content_security_policy(client: Client):
    csp = client.get("/accounts/login/")["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp


@pytest.mark.django_db
def test_vendored_static_files_are_served(client: Client):
    for asset in ("vendor/htmx/htmx.min.js", "vendor/htmx/ws.min.js", "vendor/bootstrap/bootstrap.min.css"):
        response = client.get(f"/static/{asset}")
        assert response.status_code == 200, asset


@pytest.mark.django_db
def test_api_docs_and_schema_are_served(client: Client):
    assert client.get("/api/v1/docs/").status_code == 200
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/api/v1/tenancies/" in schema.json()["paths"]


@pytest.mark.django_db
def test_admin_is_for_staff_only(physicist_client: Client):
    from tests.factories import UserFactory

    assert physicist_client.get("/admin/").status_code == 302  # to the admin login
    staff = Client()
    staff.force_login(UserFactory(username="ops", is_staff=True, is_superuser=True))
    assert staff.get("/admin/").status_code == 200
    assert staff.get("/admin/tenancies/tenancy/").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/accounts/me/", "/api/v1/tenancies/"])
def test_query_count_does_not_grow_with_the_number_of_tenancies(path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import MembershipFactory, TenancyFactory, UserFactory

    user = UserFactory(username="busy")
    client = Client()
    client.force_login(user)
    counts = []
    for _ in range(2):
        for _ in range(10):
            MembershipFactory(user=user, tenancy=TenancyFactory())
        with CaptureQueriesContext(connection) as queries:
            assert client.get(path).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
