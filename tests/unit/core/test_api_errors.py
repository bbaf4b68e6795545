"""Every API error has one JSON shape: {"error": {status, code, message, fields?}}."""

import pytest
from django.test import Client


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["status"] == status
    assert error["code"] == code
    assert error["message"]
    return error


@pytest.mark.django_db
def test_api_root_lists_the_collections(client: Client):
    response = client.get("/api/v1/")
    assert response.status_code == 200
    links = response.json()["links"]
    assert links["tenancies"].endswith("/api/v1/tenancies/")
    assert links["platform-types"].endswith("/api/v1/platform-types/")
    assert links["schema"].endswith("/api/v1/schema/")


@pytest.mark.django_db
def test_unknown_api_path_is_json_404(client: Client):
    error = assert_error(client.get("/api/v1/no-such-thing/"), 404, "not_found")
    assert "/api/v1/no-such-thing/" in error["message"]


@pytest.mark.django_db
def test_not_signed_in_is_json_401_saying_how_to_authenticate(client: Client):
    response = client.get("/api/v1/me/")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.django_db
def test_wrong_method_is_json_405(physicist_client: Client):
    assert_error(physicist_client.delete("/api/v1/me/"), 405, "method_not_allowed")


@pytest.mark.django_db
def test_another_tenancys_object_is_json_404(physicist_client: Client, biology):
    assert_error(physicist_client.get(f"/api/v1/tenancies/{biology.pk}/"), 404, "not_found")


def test_validation_errors_carry_field_messages():
    from rest_framework import serializers

    from apps.core.api import exception_handler

    class MachineForm(serializers.Serializer):  # the shape every create endpoint will have
        name = serializers.CharField(max_length=5)
        size = serializers.IntegerField()

    form = MachineForm(data={"name": "far-too-long"})
    assert not form.is_valid()
    response = exception_handler(serializers.ValidationError(form.errors), {})
    assert response is not None
    assert response.status_code == 400
    error = response.data["error"]
    assert error["code"] == "invalid"
    assert error["fields"] == {
        "name": ["Ensure this field has no more than 5 characters."],
        "size": ["This field is required."],
    }


def test_application_errors_keep_their_status_and_message():
    from apps.core.api import exception_handler
    from apps.core.errors import Conflict

    response = exception_handler(Conflict("Machine is busy: a job is running on it."), {})
    assert response is not None
    assert response.status_code == 409
    assert response.data == {
        "error": {"status": 409, "code": "conflict", "message": "Machine is busy: a job is running on it."}
    }


@pytest.mark.django_db
def test_error_bodies_match_the_documented_schema(physicist_client: Client, biology):
    import jsonschema

    schema = physicist_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    error_schema = schema["components"]["schemas"]["Error"]
    detail = schema["paths"]["/api/v1/tenancies/{id}/"]["get"]["responses"]
    assert detail["404"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    for response in (
        physicist_client.get(f"/api/v1/tenancies/{biology.pk}/"),
        physicist_client.post("/api/v1/tokens/", {}, content_type="application/json"),
        Client().get("/api/v1/me/"),
    ):
        jsonschema.validate(response.json(), error_schema)


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "param"), [("jobs/", "state"), ("jobs/", "kind"), ("machines/", "status")])
def test_a_choice_filter_sent_empty_is_a_400_naming_it(physicist_client: Client, physics, path: str, param: str):
    """`?state=` names no state: the API says so (the schema's enum has no empty value), where the
    page's form reads empty as "any"; left out, the list is whole."""
    url = f"/api/v1/tenancies/{physics.pk}/{path}"
    body = assert_error(physicist_client.get(url, {param: ""}), 400, "invalid")
    assert param in body["fields"], body
    assert physicist_client.get(url).status_code == 200
