"""Per-user federation against a real Keystone: the user's OIDC access token,
kept by Atrium, is exchanged (keystoneauth `v3oidcaccesstoken`) for a token
scoped to the tenancy's project, and the driver acts as that user.

The rig's Keystone (tests/openstack/up.sh) trusts its own identity provider
`osrig-idp` through a shim standing in for mod_auth_openidc: HS256 access
tokens signed with the secret in $OSRIG_DIR/data/oidc_secret, issuer
https://idp.osrig.test, audience `openstack`. Here the test mints such a token
as that provider would. Skipped, saying why, without a rig.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
import yaml

from apps.accounts.models import OidcToken
from apps.accounts.services import oidc_token_store
from apps.clouds import dto, errors
from apps.clouds.openstack import sdk
from apps.clouds.registry import driver_for_tenancy
from apps.tenancies.models import Cloud
from tests.contract.conftest import CLOUDS_YAML, CloudUnderTest
from tests.factories import CloudFactory, TenancyFactory, UserFactory

pytestmark = pytest.mark.skipif(
    not CLOUDS_YAML, reason="OpenStack federation: set ATRIUM_TEST_OPENSTACK_CLOUDS_YAML to a clouds.yaml to run it"
)

ISSUER = os.environ.get("ATRIUM_TEST_OPENSTACK_OIDC_ISSUER", "https://idp.osrig.test")
AUDIENCE = os.environ.get("ATRIUM_TEST_OPENSTACK_OIDC_AUDIENCE", "openstack")
IDENTITY_PROVIDER = os.environ.get("ATRIUM_TEST_OPENSTACK_IDENTITY_PROVIDER", "osrig-idp")


def _secret() -> str:
    path = Path(
        os.environ.get("ATRIUM_TEST_OPENSTACK_OIDC_SECRET_FILE", "")
        or Path(CLOUDS_YAML).parent / "data" / "oidc_secret"
    )
    if not path.is_file():
        pytest.skip(f"OpenStack federation: no identity provider secret at {path} (the rig's up.sh writes it)")
    return path.read_text().strip()


def _mint(secret: str, *, login: str, lifetime: int = 900) -> str:
    """An access token as the rig's identity provider issues them."""
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": f"sub-{login}",
        "preferred_username": login,
        "email": f"{login}@osrig.test",
        "iat": now,
        "exp": now + lifetime,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def _admin() -> sdk.Connection:
    from tests.contract.openstack_rig import password_connection

    clouds = yaml.safe_load(Path(CLOUDS_YAML).read_text())["clouds"]
    return password_connection(clouds[os.environ.get("ATRIUM_TEST_OPENSTACK_ADMIN_CLOUD", "admin")])


@pytest.fixture
def federated(db: Any) -> dict[str, Any]:
    clouds = yaml.safe_load(Path(CLOUDS_YAML).read_text())["clouds"]
    member = clouds[os.environ.get("ATRIUM_TEST_OPENSTACK_CLOUD", "demo")]
    admin = _admin()
    identity: Any = admin.identity  # typed as v2 | v3; clouds here speak v3
    project = identity.find_project(member["auth"]["project_name"], ignore_missing=False)
    cloud = CloudFactory(
        name="Federated OpenStack",
        driver=Cloud.Driver.OPENSTACK,
        endpoint=member["auth"]["auth_url"],
        options={
            "auth": "federated",
            "identity_provider": IDENTITY_PROVIDER,
            "protocol": "openid",
            "region_name": member.get("region_name"),
        },
        credentials={},  # no long-lived credential at all
    )
    tenancy = TenancyFactory(name="Federated project", cloud=cloud, project_id=str(project.id), credentials={})
    login = f"fed-{uuid.uuid4().hex[:8]}"
    user = UserFactory(username=login, oidc_issuer=ISSUER, oidc_subject=f"sub-{login}")
    return {"secret": _secret(), "tenancy": tenancy, "user": user, "login": login, "admin": admin}


def test_a_federated_user_lists_and_boots_as_themselves(federated: dict[str, Any]):
    user, tenancy, admin = federated["user"], federated["tenancy"], federated["admin"]
    oidc_token_store(user=user, access_token=_mint(federated["secret"], login=federated["login"]), expires_in=None)
    assert OidcToken.objects.get(user=user).expires_at.timestamp() > time.time() + 800  # from the token's exp

    driver = driver_for_tenancy(tenancy, user=user)
    images = [image for image in driver.images() if image.status == dto.ImageStatus.ACTIVE]
    assert images
    driver.machines()  # the project's servers, as the user sees them
    image = next((i for i in images if "cirros" in i.name.lower()), images[0])
    fitting = [s for s in driver.sizes() if s.disk_gb >= image.min_disk_gb and s.ram_mb >= image.min_ram_mb]
    size = min(fitting, key=lambda s: (s.cpus, s.ram_mb, s.disk_gb))
    cut = CloudUnderTest(
        driver=driver,
        tenancy=tenancy,
        image_id=image.id,
        size_id=size.id,
        set_machine_quota=lambda n: None,
        wait_seconds=120,
    )
    try:
        machine = cut.boot("atrium-federated")
        cut.wait_status(machine.id, dto.MachineStatus.ACTIVE)
        assert machine.id in {m.id for m in driver.machines()}
        # The server belongs to the federated user Keystone made from the token
        # (a shadow user named after preferred_username), not to a service account.
        identity: Any = admin.identity
        owner = identity.get_user(admin.compute.get_server(machine.id).user_id)
        assert owner.name == federated["login"]
    finally:
        for cleanup in reversed(cut.cleanups):
            cleanup()


def test_a_token_signed_with_another_key_is_refused(federated: dict[str, Any]):
    user, tenancy = federated["user"], federated["tenancy"]
    forged = _mint("not-the-identity-providers-secret-" + uuid.uuid4().hex, login=federated["login"])
    oidc_token_store(user=user, access_token=forged, expires_in=None)
    with pytest.raises(errors.Authentication, match="Sign in again so Atrium can act for you on Federated OpenStack"):
        driver_for_tenancy(tenancy, user=user).images()


def test_without_a_user_a_federated_cloud_refuses_before_calling_it(federated: dict[str, Any]):
    with pytest.raises(errors.Authentication, match="Sign in again so Atrium can act for you on Federated OpenStack"):
        driver_for_tenancy(federated["tenancy"])
