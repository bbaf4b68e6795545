"""Every route of the portal, as an outsider and as the owner.

Each URL pattern must be listed below with what guards it. A new route that
is not listed fails this test, so no page or endpoint ships without its
isolation check. Object routes are fetched with another tenancy's (or another
person's) object: that must be 404, never 403 and never the object; the owner
must get it. Every page and list readable by the outsider must not show any
of the other tenancy's or person's things.
"""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from apps.accounts.services import api_token_create, ssh_key_add
from apps.clouds.local.seed import local_cloud_seed
from apps.clouds.registry import driver_for_tenancy
from apps.jobs.services import tenancy_sync_start
from apps.machines.models import ExternalIp, FirewallRule, Machine, Volume
from tests.factories import MembershipFactory, TenancyFactory, UserFactory
from tests.unit.accounts.test_ssh_keys import ED25519, openssh

# Open to everyone (or only meaningful without a session).
PUBLIC = {
    "core:home",
    "core:healthz",
    "accounts:login",
    "accounts:logout",
    "admin-login",
    "api:root",
    "api:schema",
    "api:docs",
    "oidc_authentication_init",
    "oidc_authentication_callback",
}
# The signed-in person's own view of themselves, no object id in the URL.
OWN_PAGES = {
    "accounts:profile",
    "accounts:tokens",
    "accounts:ssh-keys",
    "api:me",
    "api:token-list",
    "api:ssh-key-list",
    "api:tenancy-list",
}
# Routes that name an object: how to build the URL for a world's object, and the method.
OBJECT_ROUTES: dict[str, tuple[str, Callable[["World"], dict[str, Any]]]] = {
    "tenancies:detail": ("get", lambda w: {"tenancy_id": w.tenancy.pk}),
    "api:tenancy-detail": ("get", lambda w: {"pk": w.tenancy.pk}),
    "api:token-detail": ("get", lambda w: {"token_key": w.token_key}),
    "accounts:token-revoke": ("post", lambda w: {"token_key": w.token_key}),
    "api:ssh-key-detail": ("get", lambda w: {"pk": w.ssh_key_id}),
    "accounts:ssh-key-delete": ("post", lambda w: {"key_id": w.ssh_key_id}),
    "jobs:list": ("get", lambda w: {"tenancy_id": w.tenancy.pk}),
    "jobs:detail": ("get", lambda w: {"tenancy_id": w.tenancy.pk, "job_id": w.job_id}),
    "jobs:cancel": ("post", lambda w: {"tenancy_id": w.tenancy.pk, "job_id": w.job_id}),
    "jobs:sync": ("post", lambda w: {"tenancy_id": w.tenancy.pk}),
    "api:job-detail": ("get", lambda w: {"pk": w.job_id}),
    "api:job-cancel": ("post", lambda w: {"pk": w.job_id}),
    "api:tenancy-jobs": ("get", lambda w: {"tenancy_id": w.tenancy.pk}),
    "api:tenancy-sync": ("post", lambda w: {"tenancy_id": w.tenancy.pk}),
    # Machines, external IPs and volumes (pages).
    "machines:list": ("get", lambda w: {"tenancy_id": w.tenancy.pk}),
    "machines:create": ("get", lambda w: {"tenancy_id": w.tenancy.pk}),
    "machines:create-quotas": ("get", lambda w: {"tenancy_id": w.tenancy.pk}),
    "machines:quotas": ("get", lambda w: {"tenancy_id": w.tenancy.pk}),
    "machines:detail": ("get", lambda w: {"tenancy_id": w.tenancy.pk, "machine_id": w.machine_id}),
    "machines:console-log": ("get", lambda w: {"tenancy_id": w.tenancy.pk, "machine_id": w.machine_id}),
    "machines:console": ("get", lambda w: {"tenancy_id": w.tenancy.pk, "machine_id": w.machine_id}),
    "machines:delete": ("get", lambda w: {"tenancy_id": w.tenancy.pk, "machine_id": w.machine_id}),
    "machines:action": ("post", lambda w: {"tenancy_id": w.tenancy.pk, "machine_id": w.machine_id, "action": "stop"}),
    "machines:ip-attach": ("post", lambda w: {"tenancy_id": w.tenancy.pk, "machine_id": w.machine_id}),
    "machines:volume-attach": ("post", lambda w: {"tenancy_id": w.tenancy.pk, "machine_id": w.machine_id}),
    # A GET of the add URL (what a reload after a refused POST asks) goes back to the machine's page.
    "machines:firewall-add": ("get", lambda w: {"tenancy_id": w.tenancy.pk, "machine_id": w.machine_id}),
    "machines:firewall-remove": (
        "get",
        lambda w: {"tenancy_id": w.tenancy.pk, "machine_id": w.machine_id, "rule_id": w.rule_id},
    ),
    "machines:ips": ("get", lambda w: {"tenancy_id": w.tenancy.pk}),
    "machines:ip-allocate": ("post", lambda w: {"tenancy_id": w.tenancy.pk}),
    "machines:ip-attach-machine": ("post", lambda w: {"tenancy_id": w.tenancy.pk, "ip_id": w.ip_id}),
    "machines:ip-detach": ("post", lambda w: {"tenancy_id": w.tenancy.pk, "ip_id": w.ip_id}),
    "machines:ip-release": ("post", lambda w: {"tenancy_id": w.tenancy.pk, "ip_id": w.ip_id}),
    "machines:volumes": ("get", lambda w: {"tenancy_id": w.tenancy.pk}),
    "machines:volume-attach-machine": ("post", lambda w: {"tenancy_id": w.tenancy.pk, "volume_id": w.volume_id}),
    "machines:volume-detach": ("post", lambda w: {"tenancy_id": w.tenancy.pk, "volume_id": w.volume_id}),
    "machines:volume-delete": ("post", lambda w: {"tenancy_id": w.tenancy.pk, "volume_id": w.volume_id}),
    # Machines, external IPs and volumes (API).
    "api:tenancy-images": ("get", lambda w: {"tenancy_id": w.tenancy.pk}),
    "api:tenancy-sizes": ("get", lambda w: {"tenancy_id": w.tenancy.pk}),
    "api:tenancy-quotas": ("get", lambda w: {"tenancy_id": w.tenancy.pk}),
    "api:tenancy-networks": ("get", lambda w: {"tenancy_id": w.tenancy.pk}),
    "api:machine-list": ("get", lambda w: {"tenancy_id": w.tenancy.pk}),
    "api:machine-detail": ("get", lambda w: {"tenancy_id": w.tenancy.pk, "pk": w.machine_id}),
    "api:machine-start": ("post", lambda w: {"tenancy_id": w.tenancy.pk, "pk": w.machine_id}),
    "api:machine-stop": ("post", lambda w: {"tenancy_id": w.tenancy.pk, "pk": w.machine_id}),
    "api:machine-restart": ("post", lambda w: {"tenancy_id": w.tenancy.pk, "pk": w.machine_id}),
    "api:machine-external-ip": ("post", lambda w: {"tenancy_id": w.tenancy.pk, "pk": w.machine_id}),
    "api:machine-logs": ("get", lambda w: {"tenancy_id": w.tenancy.pk, "pk": w.machine_id}),
    "api:machine-console": ("get", lambda w: {"tenancy_id": w.tenancy.pk, "pk": w.machine_id}),
    "api:machine-firewall-rule-list": ("get", lambda w: {"tenancy_id": w.tenancy.pk, "machine_id": w.machine_id}),
    "api:machine-firewall-rule-detail": (
        "get",
        lambda w: {"tenancy_id": w.tenancy.pk, "machine_id": w.machine_id, "pk": w.rule_id},
    ),
    "api:external-ip-list": ("get", lambda w: {"tenancy_id": w.tenancy.pk}),
    "api:external-ip-detail": ("get", lambda w: {"tenancy_id": w.tenancy.pk, "pk": w.ip_id}),
    "api:external-ip-attach": ("post", lambda w: {"tenancy_id": w.tenancy.pk, "pk": w.ip_id}),
    "api:external-ip-detach": ("post", lambda w: {"tenancy_id": w.tenancy.pk, "pk": w.ip_id}),
    "api:volume-list": ("get", lambda w: {"tenancy_id": w.tenancy.pk}),
    "api:volume-detail": ("get", lambda w: {"tenancy_id": w.tenancy.pk, "pk": w.volume_id}),
    "api:volume-attach": ("post", lambda w: {"tenancy_id": w.tenancy.pk, "pk": w.volume_id}),
    "api:volume-detach": ("post", lambda w: {"tenancy_id": w.tenancy.pk, "pk": w.volume_id}),
}
# The JSON body a route needs to do its work (the outsider sends the same, naming the world's objects).
BODIES: dict[str, Callable[["World"], dict[str, Any]]] = {
    "api:external-ip-attach": lambda w: {"machine_id": w.machine_id},
    "api:volume-attach": lambda w: {"machine_id": w.machine_id},
}
# Further methods of object routes above (an outsider must get 404 from these too).
MORE_METHODS: dict[str, list[str]] = {
    "api:machine-list": ["post"],
    "api:machine-detail": ["delete"],
    "api:machine-firewall-rule-list": ["post"],
    "api:machine-firewall-rule-detail": ["delete"],
    "api:external-ip-list": ["post"],
    "api:external-ip-detail": ["delete"],
    "api:volume-list": ["post"],
    "api:volume-detail": ["delete"],
}
# Operators (staff) only: anyone else is sent to sign in as staff, and sees nothing.
STAFF_PAGES = {"operators:jobs"}
# Unnamed patterns allowed (by their regex).
UNNAMED = {"api/v1/<path:rest>"}


@dataclass
class World:
    """One person and their things, marked so leaks can be seen."""

    user: Any
    tenancy: Any
    token_key: str
    ssh_key_id: int
    job_id: int
    machine_id: int
    ip_id: int
    volume_id: int
    rule_id: int
    marker: str

    def client(self) -> Client:
        client = Client()
        client.force_login(self.user)
        return client


def make_world(marker: str) -> World:
    user = UserFactory(username=f"{marker}-user")
    tenancy = TenancyFactory(name=f"{marker}-tenancy", description=f"{marker} description")
    MembershipFactory(user=user, tenancy=tenancy)
    token, _ = api_token_create(user=user, name=f"{marker}-token")
    key = ssh_key_add(user=user, name=f"{marker}-key", public_key=ED25519 if marker == "ours" else openssh_new())
    job = tenancy_sync_start(tenancy=tenancy, requested_by=user)
    machine = Machine.objects.create(
        tenancy=tenancy,
        name=f"{marker}-machine",
        cloud_id=local_server(tenancy, f"{marker}-machine"),
        status="ACTIVE",
        created_by=user,
        has_firewall=True,
    )
    ssh = driver_for_tenancy(tenancy).machine_firewall(machine_id=machine.cloud_id)[0]
    rule = FirewallRule.objects.create(
        tenancy=tenancy, machine=machine, cloud_id=ssh.id, protocol=ssh.protocol.value, port_min=22, port_max=22
    )
    ip = ExternalIp.objects.create(tenancy=tenancy, cloud_id=f"{marker}-ip", address=IPS[marker], created_by=user)
    volume = Volume.objects.create(
        tenancy=tenancy, name=f"{marker}-volume", cloud_id=f"{marker}-vol", size_gb=1, status="AVAILABLE"
    )
    return World(
        user=user,
        tenancy=tenancy,
        token_key=token.token_key,
        ssh_key_id=key.pk,
        job_id=job.pk,
        machine_id=machine.pk,
        ip_id=ip.pk,
        volume_id=volume.pk,
        rule_id=rule.pk,
        marker=marker,
    )


IPS = {"ours": "203.0.113.10", "theirs": "203.0.113.99"}


def local_server(tenancy: Any, name: str) -> str:
    """A server on the local cloud, active at once, so the machine's console log can be read."""
    tenancy.cloud.options = {"build_seconds": 0, "action_seconds": 0}
    tenancy.cloud.save()
    local_cloud_seed(tenancy.cloud, projects=[tenancy.project_id])
    driver = driver_for_tenancy(tenancy)
    image = next(i for i in driver.images() if i.name == "Debian 12")
    size = next(s for s in driver.sizes() if s.name == "small")
    server = driver.machine_create(name=name, image_id=image.id, size_id=size.id)
    assert driver.machine_get(machine_id=server.id).status.value == "ACTIVE"
    return server.id


def body(route: str, world: World) -> dict[str, Any]:
    """The request's keyword arguments: the route's JSON body, if it needs one."""
    if route not in BODIES:
        return {}
    return {"data": json.dumps(BODIES[route](world)), "content_type": "application/json"}


def openssh_new() -> str:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return openssh(ed25519.Ed25519PrivateKey.generate(), "theirs@box")


def walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or ""
            if ns == "admin":
                continue  # the Django admin: staff only, its own permission checks
            inner = f"{namespace}:{ns}" if namespace and ns else ns or namespace
            yield from walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name or ""
            yield name, prefix + str(entry.pattern)


ALL_ROUTES = sorted(set(walk(get_resolver().url_patterns)))


def test_every_route_is_listed_with_its_guard():
    unlisted = [
        (name, pattern)
        for name, pattern in ALL_ROUTES
        if (name and name not in PUBLIC | OWN_PAGES | STAFF_PAGES | set(OBJECT_ROUTES))
        or (not name and pattern not in UNNAMED)
    ]
    assert unlisted == [], "List these routes in tests/unit/test_isolation_matrix.py with their guard"


@pytest.fixture
def worlds(db) -> tuple[World, World]:
    return make_world("ours"), make_world("theirs")


@pytest.mark.django_db
@pytest.mark.parametrize("route", sorted(OBJECT_ROUTES))
def test_another_worlds_object_is_404_and_the_owners_is_not(worlds, route):
    ours, theirs = worlds
    method, kwargs_of = OBJECT_ROUTES[route]
    foreign = getattr(ours.client(), method)(reverse(route, kwargs=kwargs_of(theirs)), **body(route, theirs))
    assert foreign.status_code == 404, f"{route}: {foreign.status_code}"
    assert theirs.marker not in foreign.content.decode()
    own = getattr(theirs.client(), method)(reverse(route, kwargs=kwargs_of(theirs)), **body(route, theirs))
    assert own.status_code in (200, 202, 204, 302, 409), f"{route}: {own.status_code}"  # 409: target busy


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method"), sorted((r, m) for r, methods in MORE_METHODS.items() for m in methods))
def test_other_methods_on_another_worlds_objects_are_404_too(worlds, route, method):
    ours, theirs = worlds
    _, kwargs_of = OBJECT_ROUTES[route]
    path = reverse(route, kwargs=kwargs_of(theirs))
    foreign = getattr(ours.client(), method)(path)
    assert foreign.status_code == 404, f"{route} {method}: {foreign.status_code}"
    assert theirs.marker not in foreign.content.decode()
    assert getattr(Client(), method)(path).status_code in (401, 403), f"{route} {method} signed out"


@pytest.mark.django_db
@pytest.mark.parametrize("route", sorted(OWN_PAGES | (PUBLIC - {"accounts:logout", "oidc_authentication_callback"})))
def test_nothing_of_another_world_shows_on_any_page(worlds, route):
    ours, theirs = worlds
    response = ours.client().get(reverse(route))
    assert response.status_code in (200, 302, 503), f"{route}: {response.status_code}"  # 503: /healthz, no worker
    assert theirs.marker not in response.content.decode(), f"{route} shows another tenancy's or person's things"


@pytest.mark.django_db
@pytest.mark.parametrize("route", sorted(OWN_PAGES | set(OBJECT_ROUTES)))
def test_signed_out_visitors_get_nothing(worlds, route):
    _, theirs = worlds
    method, kwargs_of = OBJECT_ROUTES.get(route, ("get", lambda w: {}))
    response = getattr(Client(), method)(reverse(route, kwargs=kwargs_of(theirs)), **body(route, theirs))
    assert response.status_code in (302, 401, 403, 404), f"{route}: {response.status_code}"
    if response.status_code == 302:
        assert response["Location"].startswith("/accounts/login/")
    assert theirs.marker not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("route", sorted(STAFF_PAGES))
def test_staff_pages_are_for_staff_only(worlds, route):
    ours, theirs = worlds
    response = ours.client().get(reverse(route))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert theirs.marker not in response.content.decode()
    staff = UserFactory(username="ops", is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get(reverse(route)).status_code == 200
