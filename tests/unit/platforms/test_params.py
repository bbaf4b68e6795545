"""platform_params_clean: every kind and its edges, defaults, required, unknown names,
immutable and permanent on update, hidden and secret parameters; the quota projection and
the services a set of values turns on."""

import pytest

from apps.catalogue.capabilities import capabilities_to_dict
from apps.clouds.base import Capabilities
from apps.clouds.errors import BadInput
from apps.platforms.params import (
    SECRET_MASK,
    platform_params_clean,
    platform_params_shown,
    platform_quota_projection,
    platform_services,
)

from .conftest import make_type

pytestmark = pytest.mark.django_db


def refused(ptype, values, tenancy, **kwargs) -> dict[str, list[str]]:
    with pytest.raises(BadInput) as caught:
        platform_params_clean(ptype, values, tenancy=tenancy, **kwargs)
    return caught.value.fields


def test_string_length_and_pattern(physics):
    ptype = make_type([{"name": "user", "kind": "string", "min_length": 2, "max_length": 8, "pattern": "[a-z]+"}])
    assert platform_params_clean(ptype, {"user": "alice"}, tenancy=physics) == {"user": "alice"}
    assert refused(ptype, {"user": "a"}, physics) == {"user": ["At least 2 characters."]}
    assert refused(ptype, {"user": "abcdefghi"}, physics) == {"user": ["At most 8 characters."]}
    assert refused(ptype, {"user": "Alice"}, physics) == {"user": ["Must match [a-z]+."]}
    assert refused(ptype, {"user": 12}, physics) == {"user": ["Enter text."]}


def test_integer_and_number_bounds_from_json_or_form_text(physics):
    ptype = make_type(
        [
            {"name": "nodes", "kind": "integer", "min": 1, "max": 4},
            {"name": "ratio", "kind": "number", "min": 0.5, "max": 1.5},
        ]
    )
    assert platform_params_clean(ptype, {"nodes": "3", "ratio": "0.75"}, tenancy=physics) == {"nodes": 3, "ratio": 0.75}
    assert platform_params_clean(ptype, {"nodes": 4, "ratio": 1}, tenancy=physics) == {"nodes": 4, "ratio": 1}
    errors = refused(ptype, {"nodes": 0, "ratio": 2}, physics)
    assert errors == {"nodes": ["At least 1."], "ratio": ["At most 1.5."]}
    assert refused(ptype, {"nodes": 5, "ratio": 0.1}, physics) == {"nodes": ["At most 4."], "ratio": ["At least 0.5."]}
    errors = refused(ptype, {"nodes": "2.5", "ratio": "much"}, physics)
    assert errors == {"nodes": ["Enter a whole number."], "ratio": ["Enter a number."]}
    assert refused(ptype, {"nodes": True, "ratio": "nan"}, physics) == {
        "nodes": ["Enter a whole number."],
        "ratio": ["Enter a number."],
    }


def test_boolean_from_json_or_form(physics):
    ptype = make_type([{"name": "gpu", "kind": "boolean", "default": False}])
    assert platform_params_clean(ptype, {"gpu": True}, tenancy=physics) == {"gpu": True}
    assert platform_params_clean(ptype, {"gpu": "on"}, tenancy=physics) == {"gpu": True}
    assert platform_params_clean(ptype, {"gpu": "false"}, tenancy=physics) == {"gpu": False}
    assert platform_params_clean(ptype, {}, tenancy=physics) == {"gpu": False}
    assert refused(ptype, {"gpu": "maybe"}, physics) == {"gpu": ["Enter true or false."]}
    without_default = make_type([{"name": "gpu", "kind": "boolean"}], name="other")
    assert platform_params_clean(without_default, {}, tenancy=physics) == {"gpu": False}


def test_choice_is_one_of_its_options(physics):
    ptype = make_type(
        [
            {
                "name": "flavour",
                "kind": "choice",
                "options": ["vanilla", {"value": "mint", "label": "Mint"}],
                "default": "vanilla",
            }
        ]
    )
    assert platform_params_clean(ptype, {"flavour": "mint"}, tenancy=physics) == {"flavour": "mint"}
    assert platform_params_clean(ptype, {}, tenancy=physics) == {"flavour": "vanilla"}
    assert refused(ptype, {"flavour": "Mint"}, physics) == {"flavour": ["Choose one of vanilla, mint."]}


def test_list_of_texts_with_item_bounds(physics):
    ptype = make_type([{"name": "users", "kind": "list", "min_items": 1, "max_items": 2}])
    assert platform_params_clean(ptype, {"users": ["ada", "alan"]}, tenancy=physics) == {"users": ["ada", "alan"]}
    assert platform_params_clean(ptype, {"users": "ada\n\n alan \n"}, tenancy=physics) == {"users": ["ada", "alan"]}
    assert refused(ptype, {"users": []}, physics) == {"users": ["At least 1 items."]}
    assert refused(ptype, {"users": ["a", "b", "c"]}, physics) == {"users": ["At most 2 items."]}
    assert refused(ptype, {"users": ["a", 1]}, physics) == {"users": ["Enter a list of texts."]}


def test_cloud_size_by_id_or_name_meeting_the_minimums(physics, catalogue):
    ptype = make_type([{"name": "size", "kind": "cloud_size", "min_cpus": 2, "min_ram_mb": 2048, "default": "small"}])
    assert platform_params_clean(ptype, {}, tenancy=physics) == {"size": "size-small"}
    assert platform_params_clean(ptype, {"size": "large"}, tenancy=physics) == {"size": "size-large"}
    assert platform_params_clean(ptype, {"size": "size-large"}, tenancy=physics) == {"size": "size-large"}
    assert refused(ptype, {"size": "tiny"}, physics) == {
        "size": ["tiny is too small: this needs at least 2 CPUs, 2048 MB of RAM."]
    }
    assert refused(ptype, {"size": "huge"}, physics) == {"size": ["There is no size 'huge' in this tenancy."]}


def test_cloud_image_through_its_filters(physics, catalogue):
    ptype = make_type([{"name": "image", "kind": "cloud_image", "name_pattern": "^(Debian|Rocky)", "required": True}])
    assert platform_params_clean(ptype, {"image": "Rocky 9"}, tenancy=physics) == {"image": "img-rocky"}
    assert refused(ptype, {"image": "img-win"}, physics) == {
        "image": ["Windows Server cannot be used for this platform."]
    }
    assert refused(ptype, {}, physics) == {"image": ["This parameter is required."]}
    by_os = make_type([{"name": "image", "kind": "cloud_image", "os_distro": "Debian"}], name="other")
    assert platform_params_clean(by_os, {"image": "Debian 12"}, tenancy=physics) == {"image": "img-debian"}
    assert refused(by_os, {"image": "Rocky 9"}, physics) == {"image": ["Rocky 9 cannot be used for this platform."]}


def test_a_default_that_does_not_fit_the_tenancy_must_be_chosen(physics, catalogue):
    ptype = make_type([{"name": "image", "kind": "cloud_image", "default": "Ubuntu 24.04", "required": True}])
    assert refused(ptype, {}, physics) == {"image": ["This parameter is required."]}


def test_external_ip_and_volume_need_a_cloud_that_offers_them(physics, catalogue):
    ptype = make_type(
        [{"name": "ip", "kind": "external_ip", "default": True}, {"name": "data", "kind": "volume_size", "max": 100}]
    )
    assert platform_params_clean(ptype, {"data": 10}, tenancy=physics) == {"ip": True, "data": 10}
    assert refused(ptype, {"data": 0}, physics) == {"data": ["At least 1."]}
    assert refused(ptype, {"data": 101}, physics) == {"data": ["At most 100."]}
    catalogue.capabilities_data = capabilities_to_dict(Capabilities())
    catalogue.save()
    assert refused(ptype, {"ip": True, "data": 10}, physics) == {
        "ip": ["This tenancy's cloud offers no external IPs."],
        "data": ["This tenancy's cloud offers no volumes."],
    }
    # By default, on a cloud without them, no external IP is asked for.
    assert platform_params_clean(ptype, {}, tenancy=physics) == {"ip": False, "data": None}


def test_required_unknown_and_every_error_at_once(physics):
    ptype = make_type([{"name": "a", "kind": "string", "required": True}, {"name": "b", "kind": "integer"}])
    assert platform_params_clean(ptype, {"a": "x"}, tenancy=physics) == {"a": "x", "b": None}
    errors = refused(ptype, {"a": "", "b": "x", "c": 1}, physics)
    assert errors == {"a": ["This parameter is required."], "b": ["Enter a whole number."], "c": ["Unknown parameter."]}


def test_immutable_is_set_only_at_create(physics):
    ptype = make_type([{"name": "zone", "kind": "string", "immutable": True}, {"name": "motd", "kind": "string"}])
    created = platform_params_clean(ptype, {"zone": "a", "motd": "hi"}, tenancy=physics)
    assert refused(ptype, {"zone": "b"}, physics, existing=created) == {
        "zone": ["Set only when the platform is created; it cannot be changed."]
    }
    # The same value, or none (kept), is fine; other parameters change.
    assert platform_params_clean(ptype, {"zone": "a", "motd": "bye"}, tenancy=physics, existing=created) == {
        "zone": "a",
        "motd": "bye",
    }
    assert platform_params_clean(ptype, {}, tenancy=physics, existing=created) == created


def test_permanent_boolean_can_be_turned_on_never_off(physics):
    ptype = make_type([{"name": "backup", "kind": "boolean", "permanent": True, "default": False}])
    off = platform_params_clean(ptype, {}, tenancy=physics)
    on = platform_params_clean(ptype, {"backup": True}, tenancy=physics, existing=off)
    assert on == {"backup": True}
    assert refused(ptype, {"backup": False}, physics, existing=on) == {
        "backup": ["Once on, this cannot be turned off."]
    }


def test_hidden_parameters_are_always_their_default(physics):
    ptype = make_type([{"name": "port", "kind": "integer", "hidden": True, "default": 8080}])
    assert platform_params_clean(ptype, {}, tenancy=physics) == {"port": 8080}
    assert platform_params_clean(ptype, {"port": "8080"}, tenancy=physics) == {"port": 8080}
    assert refused(ptype, {"port": 22}, physics) == {"port": ["Set by the platform type; it cannot be changed."]}


def test_secrets_are_masked_when_shown_and_kept_when_left_blank_on_update(physics):
    ptype = make_type([{"name": "password", "kind": "string", "secret": True, "min_length": 8, "required": True}])
    created = platform_params_clean(ptype, {"password": "correct-horse"}, tenancy=physics)
    assert platform_params_shown(ptype, created) == {"password": SECRET_MASK}
    assert platform_params_clean(ptype, {"password": ""}, tenancy=physics, existing=created) == created
    assert platform_params_clean(ptype, {"password": SECRET_MASK}, tenancy=physics, existing=created) == created
    assert refused(ptype, {"password": "short"}, physics, existing=created) == {"password": ["At least 8 characters."]}


def test_quota_projection_multiplies_sizes_and_volumes_by_their_counts(physics, catalogue):
    ptype = make_type(
        [
            {"name": "login", "kind": "cloud_size", "default": "small"},
            {"name": "workers", "kind": "integer", "min": 0, "default": 3},
            {"name": "worker_size", "kind": "cloud_size", "default": "large", "count_parameter": "workers"},
            {"name": "scratch_gb", "kind": "volume_size", "default": 50, "count_parameter": "workers"},
            {"name": "home_gb", "kind": "volume_size", "default": 100},
            {"name": "ip", "kind": "external_ip", "default": True},
        ]
    )
    values = platform_params_clean(ptype, {}, tenancy=physics)
    assert platform_quota_projection(ptype, values, tenancy=physics) == {
        "machines": 4,
        "cpus": 2 + 3 * 8,
        "ram_mb": 4096 + 3 * 32768,
        "volumes": 4,
        "volume_gb": 3 * 50 + 100,
        "external_ips": 1,
    }
    none = platform_params_clean(ptype, {"workers": 0, "ip": False}, tenancy=physics)
    assert platform_quota_projection(ptype, none, tenancy=physics) == {
        "machines": 1,
        "cpus": 2,
        "ram_mb": 4096,
        "volumes": 1,
        "volume_gb": 100,
        "external_ips": 0,
    }


def test_services_follow_their_conditions(physics):
    ptype = make_type(
        [
            {"name": "ip", "kind": "boolean", "default": True},
            {"name": "mode", "kind": "choice", "options": ["a", "b"], "default": "a"},
        ],
        services=[
            {"name": "ssh", "label": "SSH", "when": {"ip": True}},
            {"name": "web", "label": "Web", "when": {"ip": True, "mode": "b"}},
            {"name": "console", "label": "Console", "internal": True},
        ],
    )
    names = lambda values: [s["name"] for s in platform_services(ptype, values)]  # noqa: E731
    assert names(platform_params_clean(ptype, {}, tenancy=physics)) == ["ssh", "console"]
    assert names(platform_params_clean(ptype, {"mode": "b"}, tenancy=physics)) == ["ssh", "web", "console"]
    assert names(platform_params_clean(ptype, {"ip": False, "mode": "b"}, tenancy=physics)) == ["console"]
