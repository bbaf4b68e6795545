"""The checked-in schema (docs/openapi.yaml) says what the API does."""

from pathlib import Path

import yaml

SCHEMA = yaml.safe_load((Path(__file__).resolve().parents[3] / "docs" / "openapi.yaml").read_text())
PATHS = SCHEMA["paths"]
COMPONENTS = SCHEMA["components"]["schemas"]


def test_people_who_may_be_nobody_are_nullable():
    assert COMPONENTS["Job"]["properties"]["requested_by"]["nullable"] is True
    for name in ("Machine", "Volume", "ExternalIp", "FirewallRule"):
        assert COMPONENTS[name]["properties"]["created_by"]["nullable"] is True, name


def test_the_rules_the_server_enforces_are_in_the_schema():
    from apps.core.names import NAME_PATTERN

    volume = COMPONENTS["VolumeCreateRequest"]["properties"]
    assert (volume["size_gb"]["minimum"], volume["size_gb"]["maximum"]) == (1, 16384)
    assert (volume["name"]["maxLength"], volume["name"]["pattern"]) == (255, NAME_PATTERN)
    assert COMPONENTS["MachineCreateRequest"]["properties"]["name"]["maxLength"] == 255
    assert COMPONENTS["ApiTokenRequest"]["properties"]["name"]["pattern"] == NAME_PATTERN
    key_name = COMPONENTS["SshPublicKeyRequest"]["properties"]["name"]["oneOf"][0]
    assert (key_name["maxLength"], key_name["pattern"]) == (100, NAME_PATTERN)
    assert "unique in the tenancy" in volume["name"]["description"]


def test_pages_page_sizes_and_orderings_are_bounded():
    params = {p["name"]: p["schema"] for p in PATHS["/api/v1/tenancies/{tenancy_id}/jobs/"]["get"]["parameters"]}
    assert params["page"]["minimum"] == 1
    assert (params["page_size"]["minimum"], params["page_size"]["maximum"]) == (1, 200)
    assert params["ordering"]["enum"] == ["created_at", "-created_at"]
    assert "tenancy.sync" in params["kind"]["enum"]


def test_the_answers_the_server_gives_are_documented():
    responses = PATHS["/api/v1/tenancies/"]["get"]["responses"]
    assert {"400", "404"} <= set(responses)  # a bad ?page or ?page_size; past the last page
    console = PATHS["/api/v1/tenancies/{tenancy_id}/machines/{id}/console/"]["get"]["responses"]
    assert {"400", "404", "409"} <= set(console)  # no console on the cloud; not active
    assert "413" in PATHS["/api/v1/ssh-keys/"]["post"]["responses"]


def test_the_schema_says_what_a_public_key_looks_like():
    import re

    from tests.unit.core.test_api_input import _public_key

    pattern = COMPONENTS["SshPublicKeyRequest"]["properties"]["public_key"]["pattern"]
    assert re.search(pattern, _public_key() + " me@laptop")
    assert not re.search(pattern, "-----BEGIN OPENSSH PRIVATE KEY-----")
    assert not re.search(pattern, "ssh-dss AAAAB3NzaC1kc3M=")
