"""The catalogue keeps every field of a driver's `Capabilities` and hands callers the dataclass back."""

import dataclasses
import json

from apps.catalogue.capabilities import Capabilities, capabilities_from_dict, capabilities_to_dict
from apps.catalogue.models import Catalogue
from apps.catalogue.selectors import capabilities_cached, capabilities_get
from apps.catalogue.services import catalogue_refresh
from apps.clouds import dto
from apps.clouds.registry import driver_for_tenancy

FIELDS = [f.name for f in dataclasses.fields(Capabilities)]


def everything() -> Capabilities:
    """Every field away from its default, so a field dropped on the way reads differently."""
    values = {name: True for name in FIELDS if name != "console"}
    return Capabilities(**values, console=dto.ConsoleKind.NOVNC)


def test_every_field_is_stored_and_read_back():
    assert {"kubernetes", "leases", "host_capacity", "console"} <= set(FIELDS)
    stored = capabilities_to_dict(everything())
    assert set(stored) == set(FIELDS)
    assert capabilities_from_dict(json.loads(json.dumps(stored))) == everything()


def test_the_cache_round_trips_every_field_through_the_database(physics):
    catalogue = catalogue_refresh(tenancy=physics)
    Catalogue.objects.filter(pk=catalogue.pk).update(capabilities_data=capabilities_to_dict(everything()))
    cached = capabilities_cached(tenancy=physics)
    assert isinstance(cached, Capabilities)
    assert cached == everything()
    assert (cached.kubernetes, cached.leases, cached.host_capacity, cached.console) == (
        True,
        True,
        True,
        dto.ConsoleKind.NOVNC,
    )
    assert Catalogue.objects.get(pk=catalogue.pk).capabilities == everything()


def test_a_refresh_keeps_what_the_driver_says_kubernetes_leases_and_host_capacity_included(physics):
    offered = driver_for_tenancy(physics).capabilities()
    assert (offered.kubernetes, offered.leases, offered.host_capacity) == (True, True, True)  # the local cloud's
    assert capabilities_cached(tenancy=physics) is None
    assert capabilities_get(tenancy=physics) == offered  # read from the cloud the first time
    assert capabilities_cached(tenancy=physics) == offered


def test_rows_cached_before_a_field_existed_still_read():
    old = {"external_ips": True, "firewall": True, "volumes": False, "console": "novnc", "retired_flag": True}
    read = capabilities_from_dict(old)
    assert read == Capabilities(external_ips=True, firewall=True, console=dto.ConsoleKind.NOVNC)
    assert (read.kubernetes, read.leases, read.host_capacity) == (False, False, False)  # the defaults until a refresh
    assert capabilities_from_dict({"console": "telnet"}).console is None
    assert capabilities_from_dict({"console": None}) == Capabilities()
    assert capabilities_from_dict(None) == capabilities_from_dict({}) == Capabilities()
