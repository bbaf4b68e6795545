"""Every route of the portal, as an outsider and as the owner.

The routes come from the URLconf: each must be listed below with what guards it, so no page
or endpoint ships without its isolation check. Every route that names an object (a tenancy,
its machines, IPs, volumes, rules and jobs; a person's keys and tokens) is fetched with
another tenancy's (or another person's) object, with every method: that must be 404 (or the
405 a missing object gets too), never 403 and never the object. The owner's calls must do
what they are for, and where a call sends the owner on (a 302, or an API's 202 `Location`),
it must send them to the right place: the list or page of THAT tenancy, the job started, the
page a signed-out visitor asked for once signed in. Every page and list readable by the
outsider must not show any of the other tenancy's or person's things.
"""

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from apps.clouds.local.seed import local_cloud_seed
from apps.clouds.registry import driver_for_tenancy
from apps.jobs.models import Job
from apps.jobs.services import tenancy_sync_start
from apps.machines.models import ExternalIp, Volume
from tests.factories import (
    ApiTokenFactory,
    ExternalIpFactory,
    FirewallRuleFactory,
    MachineFactory,
    MembershipFactory,
    PlatformTypeFactory,
    SshPublicKeyFactory,
    TenancyFactory,
    UserFactory,
    VolumeFactory,
)

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
    "api:platform-type-list",  # the types offered to the person's own tenancies
}
# Operators (staff) only: anyone else is sent to sign in as staff, and sees nothing.
STAFF_PAGES = {"operators:jobs"}
# Unnamed patterns allowed (by their regex).
UNNAMED = {"api/v1/<path:rest>"}
# Routes with an object in the URL that this matrix does not fetch, and why. Keep it empty
# unless a route really cannot be checked here (say why, and where it is checked instead).
EXEMPT: dict[str, str] = {}


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
    ptype_name: str
    marker: str

    def client(self) -> Client:
        client = Client()
        client.force_login(self.user)
        return client


# What each URL parameter names in a world; `pk` (in API routes) by the route name's start.
PARAMS: dict[str, Callable[[World], Any]] = {
    "tenancy_id": lambda w: w.tenancy.pk,
    "machine_id": lambda w: w.machine_id,
    "job_id": lambda w: w.job_id,
    "ip_id": lambda w: w.ip_id,
    "volume_id": lambda w: w.volume_id,
    "rule_id": lambda w: w.rule_id,
    "key_id": lambda w: w.ssh_key_id,
    "token_key": lambda w: w.token_key,
    "type_name": lambda w: w.ptype_name,
    "action": lambda w: "stop",
}
PK_OF = {
    "api:tenancy-": "tenancy_id",
    "api:machine-firewall-rule-": "rule_id",
    "api:machine-": "machine_id",
    "api:external-ip-": "ip_id",
    "api:volume-": "volume_id",
    "api:job-": "job_id",
    "api:ssh-key-": "key_id",
    "api:token-": "token_key",
}


def params_of(pattern: str) -> list[str]:
    return re.findall(r"<(?:\w+:)?(\w+)>", pattern)


def param_name(route: str, param: str) -> str:
    if param != "pk":
        return param
    prefix = max((p for p in PK_OF if route.startswith(p)), key=len, default=None)
    assert prefix is not None, f"{route}: say in PK_OF what its pk names"
    return PK_OF[prefix]


def url_of(route: str, world: World, *, missing: bool = False) -> str:
    """The route's URL for the world's objects (`missing`: for objects that do not exist)."""
    kwargs = {p: PARAMS[param_name(route, p)](world) for p in params_of(PATTERNS[route])}
    if missing:
        kwargs = {p: 999999 if isinstance(v, int) else v if p == "action" else "missing" for p, v in kwargs.items()}
    return reverse(route, kwargs=kwargs)


def page(name: str, *params: Callable[[World], Any], anchor: str = "") -> Callable[[World], str]:
    """Where a call sends the owner: the page `name` of the world's objects."""
    return lambda w: reverse(name, args=[p(w) for p in params]) + anchor


def tenancy(w: World) -> int:
    return w.tenancy.pk


def machine(w: World) -> int:
    return w.machine_id


@dataclass(frozen=True)
class Call:
    """One request the owner makes, and what it must answer them."""

    method: str = "get"
    status: int = 200
    # A 302: the page it sends the owner to (evaluated after the request: it may name a new job).
    goes_to: Callable[[World], str] | None = None
    form: Callable[[World], dict[str, Any]] | None = None
    json: Callable[[World], dict[str, Any]] | None = None
    # Made true before the call (say, the IP is attached, for a detach).
    given: Callable[[World], None] | None = None

    def send(self, client: Client, path: str, world: World) -> Any:
        if self.json is not None:
            data = json.dumps(self.json(world))
            return getattr(client, self.method)(path, data=data, content_type="application/json")
        if self.form is not None:
            return getattr(client, self.method)(path, self.form(world))
        return getattr(client, self.method)(path)


def attach_ip(w: World) -> None:
    ExternalIp.objects.filter(pk=w.ip_id).update(machine_id=w.machine_id)


def attach_volume(w: World) -> None:
    Volume.objects.filter(pk=w.volume_id).update(machine_id=w.machine_id, status="IN_USE")


GET = (Call(),)
API_JOB = Call("post", status=202)  # 202, its Location the job started (checked for every 202)
TO_MACHINE = page("machines:machine-detail", tenancy, machine)
TO_FIREWALL = page("machines:machine-detail", tenancy, machine, anchor="#machine-firewall")
TO_IPS = page("machines:external-ip-list", tenancy)
TO_VOLUMES = page("machines:volume-list", tenancy)


def on_machine(w: World) -> dict[str, Any]:
    return {"machine": w.machine_id}


# Routes that name an object: the owner's calls, and what each must answer.
ROUTES: dict[str, tuple[Call, ...]] = {
    "tenancies:detail": GET,
    "api:tenancy-detail": GET,
    "api:token-detail": GET,
    "accounts:token-revoke": (Call("post", 302, goes_to=page("accounts:tokens")),),
    "api:ssh-key-detail": GET,
    "accounts:ssh-key-delete": (Call("post", 302, goes_to=page("accounts:ssh-keys")),),
    "jobs:list": GET,
    "jobs:detail": GET,
    "jobs:cancel": (Call("post", 302, goes_to=page("jobs:detail", tenancy, lambda w: w.job_id)),),
    # The world's sync is still queued: a second one is not started, the owner is shown the first.
    "jobs:sync": (Call("post", 302, goes_to=page("jobs:detail", tenancy, lambda w: w.job_id)),),
    "api:job-detail": GET,
    "api:job-cancel": (Call("post"),),
    "api:tenancy-jobs": GET,
    "api:tenancy-sync": (Call("post", 409),),  # the world's sync is still queued
    # Machines, external IPs and volumes (pages).
    "machines:machine-list": GET,
    "machines:machine-create": GET,
    "machines:machine-create-quotas": GET,
    "machines:tenancy-quotas": GET,  # the tenancy overview's quota meters
    "machines:machine-detail": GET,
    "machines:machine-logs": GET,
    "machines:machine-console": GET,
    "machines:machine-delete": (Call(), Call("post", 302, goes_to=page("machines:machine-list", tenancy))),
    "machines:machine-action": (Call("post", 302, goes_to=TO_MACHINE),),
    "machines:machine-external-ip": (Call("post", 302, goes_to=TO_MACHINE, form=lambda w: {"ip": w.ip_id}),),
    "machines:machine-volume-attach": (Call("post", 302, goes_to=TO_MACHINE, form=lambda w: {"volume": w.volume_id}),),
    # A GET of the add URL (what a reload after a refused POST asks) goes back to the machine's page.
    "machines:machine-firewall-rule-add": (
        Call("get", 302, goes_to=TO_MACHINE),
        Call("post", 302, goes_to=TO_FIREWALL, form=lambda w: {"protocol": "tcp", "ports": "80"}),
    ),
    "machines:machine-firewall-rule-delete": (Call(), Call("post", 302, goes_to=TO_FIREWALL)),
    "machines:external-ip-list": GET,
    "machines:external-ip-allocate": (Call("post", 302, goes_to=TO_IPS),),
    "machines:external-ip-attach": (
        Call("post", 302, goes_to=TO_IPS, form=on_machine),
        # From a machine's page, back to it.
        Call("post", 302, goes_to=TO_MACHINE, form=lambda w: {"machine": w.machine_id, "next": TO_MACHINE(w)}),
    ),
    "machines:external-ip-detach": (Call("post", 302, goes_to=TO_IPS, given=attach_ip),),
    "machines:external-ip-release": (Call("post", 302, goes_to=TO_IPS),),
    "machines:volume-list": (
        Call(),
        Call("post", 302, goes_to=TO_VOLUMES, form=lambda w: {"name": f"{w.marker}-new", "size_gb": 1}),
    ),
    "machines:volume-attach": (Call("post", 302, goes_to=TO_VOLUMES, form=on_machine),),
    "machines:volume-detach": (Call("post", 302, goes_to=TO_VOLUMES, given=attach_volume),),
    "machines:volume-delete": (Call("post", 302, goes_to=TO_VOLUMES),),
    # Machines, external IPs and volumes (API).
    "api:tenancy-images": GET,
    "api:tenancy-sizes": GET,
    "api:tenancy-quotas": GET,
    "api:tenancy-networks": GET,
    "api:machine-list": (
        Call(),
        Call("post", 202, json=lambda w: {"name": "new-one", "image_id": image_id(w), "size_id": size_id(w)}),
    ),
    "api:machine-detail": (Call(), Call("delete", 202)),
    "api:machine-start": (Call("post", 409),),  # it is running
    "api:machine-stop": (API_JOB,),
    "api:machine-restart": (API_JOB,),
    "api:machine-external-ip": (API_JOB,),
    "api:machine-logs": GET,
    "api:machine-console": GET,
    "api:machine-firewall-rule-list": (Call(), Call("post", 202, json=lambda w: {"protocol": "icmp"})),
    "api:machine-firewall-rule-detail": (Call(), Call("delete", 202)),
    "api:external-ip-list": (Call(), Call("post", 202)),
    "api:external-ip-detail": (Call(), Call("delete", 202)),
    "api:external-ip-attach": (Call("post", 202, json=lambda w: {"machine_id": w.machine_id}),),
    "api:external-ip-detach": (Call("post", 202, given=attach_ip),),
    "api:volume-list": (Call(), Call("post", 202, json=lambda w: {"name": f"{w.marker}-new", "size_gb": 1})),
    "api:volume-detail": (Call(), Call("delete", 202)),
    "api:volume-attach": (Call("post", 202, json=lambda w: {"machine_id": w.machine_id}),),
    "api:volume-detach": (Call("post", 202, given=attach_volume),),
    # Platform types: offered to the world's tenancy only.
    "platforms:type-list": GET,
    "platforms:type-detail": (Call(), Call("post", form=lambda w: {"motd": f"{w.marker} hello"})),
    "api:platform-type-detail": GET,
}


def image_id(w: World) -> str:
    driver = driver_for_tenancy(w.tenancy)
    return next(i.id for i in driver.images() if i.name == "Debian 12")


def size_id(w: World) -> str:
    driver = driver_for_tenancy(w.tenancy)
    return next(s.id for s in driver.sizes() if s.name == "small")


def make_world(marker: str) -> World:
    user = UserFactory(username=f"{marker}-user")
    tenancy = TenancyFactory(name=f"{marker}-tenancy", description=f"{marker} description")
    MembershipFactory(user=user, tenancy=tenancy)
    token = ApiTokenFactory(user=user, name=f"{marker}-token")
    key = SshPublicKeyFactory(user=user, name=f"{marker}-key")
    job = tenancy_sync_start(tenancy=tenancy, requested_by=user)
    machine = MachineFactory(
        tenancy=tenancy,
        name=f"{marker}-machine",
        cloud_id=local_server(tenancy, f"{marker}-machine"),
        created_by=user,
        has_firewall=True,
    )
    ssh = driver_for_tenancy(tenancy).machine_firewall(machine_id=machine.cloud_id)[0]
    rule = FirewallRuleFactory(machine=machine, cloud_id=ssh.id, protocol=ssh.protocol.value)
    ip = ExternalIpFactory(tenancy=tenancy, cloud_id=f"{marker}-ip", address=IPS[marker], created_by=user)
    volume = VolumeFactory(tenancy=tenancy, name=f"{marker}-volume", cloud_id=f"{marker}-vol")
    ptype = PlatformTypeFactory(name=f"{marker}_type", label=f"{marker} type")
    ptype.tenancies.add(tenancy)
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
        ptype_name=ptype.name,
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
PATTERNS = {name: pattern for name, pattern in ALL_ROUTES if name}
# Every named route with an object in its URL (a tenancy, or anything of one or of a person).
OBJECT_ROUTES = sorted(name for name, pattern in PATTERNS.items() if params_of(pattern) and name not in EXEMPT)
CALLS = [(route, i) for route in sorted(ROUTES) for i in range(len(ROUTES[route]))]


def test_every_route_is_listed_with_its_guard():
    unlisted = [
        (name, pattern)
        for name, pattern in ALL_ROUTES
        if (name and name not in PUBLIC | OWN_PAGES | STAFF_PAGES | set(ROUTES) | set(EXEMPT))
        or (not name and pattern not in UNNAMED)
    ]
    assert unlisted == [], "List these routes in tests/unit/test_isolation_matrix.py with their guard"


def test_every_route_with_an_object_is_checked_or_exempt_with_a_reason():
    """Whatever the lists above say, a route whose URL names a tenancy (or any object) cannot
    escape the matrix: it is in ROUTES (so the owner's calls and the outsider's 404s run), or
    in EXEMPT with a reason; and nothing listed as public or personal takes an object."""
    tenancy_routes = {name for name, pattern in PATTERNS.items() if "tenancy_id" in params_of(pattern)}
    assert tenancy_routes, "the URLconf has no tenancy routes? the walk is broken"
    assert sorted(tenancy_routes - set(ROUTES) - set(EXEMPT)) == []
    assert sorted(set(OBJECT_ROUTES) - set(ROUTES)) == []
    assert all(reason.strip() for reason in EXEMPT.values()), "say why a route is exempt"
    assert sorted(set(ROUTES) - set(PATTERNS)) == [], "ROUTES names routes that no longer exist"
    assert [r for r in PUBLIC | OWN_PAGES | STAFF_PAGES if r in PATTERNS and params_of(PATTERNS[r])] == []
    for route in OBJECT_ROUTES:
        for param in params_of(PATTERNS[route]):
            assert param_name(route, param) in PARAMS, f"{route}: say in PARAMS what <{param}> names"


@pytest.fixture
def worlds(db) -> tuple[World, World]:
    return make_world("ours"), make_world("theirs")


def assert_sent_on(response: Any, call: Call, world: World, route: str) -> None:
    """The owner's answer: the call's status, and where it sends them."""
    assert response.status_code == call.status, f"{route} {call.method}: {response.status_code}"
    if call.status == 302:
        assert call.goes_to is not None, f"{route}: say where its 302 goes"
        assert response["Location"] == call.goes_to(world), f"{route} {call.method}"
    else:
        assert call.goes_to is None
    if call.status == 202:  # a job started: the answer names it, and Location is its URL
        job = Job.objects.filter(tenancy=world.tenancy).latest("pk")
        assert response["Location"] == f"http://testserver{reverse('api:job-detail', args=[job.pk])}", route
        assert response.json()["id"] == job.pk, route  # the body is the job


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "index"), CALLS)
def test_another_worlds_object_is_404_and_the_owner_is_answered_and_sent_on(worlds, route, index):
    ours, theirs = worlds
    call = ROUTES[route][index]
    if call.given is not None:
        call.given(theirs)
    path = url_of(route, theirs)
    foreign = call.send(ours.client(), path, theirs)
    assert foreign.status_code == 404, f"{route} {call.method}: {foreign.status_code}"
    assert theirs.marker not in foreign.content.decode()
    own = call.send(theirs.client(), path, theirs)
    assert_sent_on(own, call, theirs, route)


@pytest.mark.django_db
@pytest.mark.parametrize("route", OBJECT_ROUTES)
def test_every_method_on_another_worlds_object_is_404_as_for_a_missing_one(worlds, route):
    """Derived from the URLconf, not from the calls above: whatever method an outsider tries
    on another tenancy's (or person's) object, they learn no more than for an object that
    does not exist: 404, or the 405 a missing object gets as well."""
    ours, theirs = worlds
    path = url_of(route, theirs)
    missing = url_of(route, theirs, missing=True)
    client = ours.client()
    for method in ("get", "post", "put", "patch", "delete"):
        foreign = getattr(client, method)(path)
        assert foreign.status_code in (404, 405), f"{route} {method}: {foreign.status_code}"
        assert foreign.status_code == getattr(client, method)(missing).status_code, f"{route} {method}"
        assert theirs.marker not in foreign.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("route", sorted(OWN_PAGES | (PUBLIC - {"accounts:logout", "oidc_authentication_callback"})))
def test_nothing_of_another_world_shows_on_any_page(worlds, route):
    ours, theirs = worlds
    response = ours.client().get(reverse(route))
    assert response.status_code in (200, 302, 503), f"{route}: {response.status_code}"  # 503: /healthz, no worker
    assert theirs.marker not in response.content.decode(), f"{route} shows another tenancy's or person's things"


def login_asking_for(path: str) -> str:
    return f"{reverse('accounts:login')}?next={path}"


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "index"), [(r, 0) for r in sorted(OWN_PAGES)] + CALLS)
def test_signed_out_visitors_get_nothing_and_sign_in_to_the_page_they_asked_for(worlds, route, index):
    _, theirs = worlds
    call = ROUTES[route][index] if route in ROUTES else Call()
    path = url_of(route, theirs) if route in ROUTES else reverse(route)
    response = call.send(Client(), path, theirs)
    assert theirs.marker not in response.content.decode()
    if path.startswith("/api/"):
        assert response.status_code in (401, 403), f"{route}: {response.status_code}"
        return
    assert response.status_code == 302, f"{route}: {response.status_code}"
    location = urlsplit(response["Location"])
    assert (location.path, parse_qs(location.query)) == (reverse("accounts:login"), {"next": [path]}), route
    if call.method == "get":  # signing in there goes to the page asked for
        signed_in = Client().post(response["Location"], {"username": theirs.user.username, "password": "pw-for-tests"})
        assert (signed_in.status_code, signed_in["Location"]) == (302, path), route


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
