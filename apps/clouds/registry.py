"""Which driver serves a cloud: chosen by `Cloud.driver`, imported on first use
(so the embedded mode never imports openstacksdk), and built from a `Target`
made here from the tenancy and its cloud (drivers read no other app's rows)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils.module_loading import import_string

from .base import CloudDriver
from .errors import Authentication, Communication, Unsupported
from .target import FEDERATED, Target

if TYPE_CHECKING:
    from apps.accounts.models import User
    from apps.tenancies.models import Cloud, Tenancy

__all__ = ["DRIVERS", "FEDERATED", "cloud_acts_as_user", "driver_for_tenancy", "target_for_tenancy"]

DRIVERS: dict[str, str] = {
    "local": "apps.clouds.local.driver.LocalDriver",
    "openstack": "apps.clouds.openstack.driver.OpenStackDriver",
}


def driver_for_tenancy(tenancy: Tenancy, *, user: User | None = None) -> CloudDriver:
    """The driver bound to `tenancy`'s project on its cloud, acting for `user`.

    Most clouds act with the tenancy's (or cloud's) stored credentials and ignore
    `user`. A cloud set up for per-user federation (`Cloud.options["auth"] ==
    "federated"`) acts as the user, with their OIDC access token, and raises
    Authentication when `user` is None or has no usable token. Jobs pass
    `user=job.requested_by`.
    """
    path = DRIVERS.get(tenancy.cloud.driver)
    if path is None:
        raise Unsupported(f"The cloud {tenancy.cloud.name!r} uses an unknown driver {tenancy.cloud.driver!r}.")
    driver_class: type[CloudDriver] = import_string(path)
    return driver_class(target=target_for_tenancy(tenancy, user=user))


def target_for_tenancy(tenancy: Tenancy, *, user: User | None = None) -> Target:
    """What a driver needs to know of `tenancy` and its cloud."""
    cloud = tenancy.cloud
    return Target(
        cloud_id=cloud.pk,
        cloud_name=cloud.name,
        driver=cloud.driver,
        endpoint=cloud.endpoint or "",
        options=dict(cloud.options or {}),
        credentials={**(cloud.credentials or {}), **(tenancy.credentials or {})},
        project_id=tenancy.project_id,
        token=_oidc_token(cloud, user) if cloud_acts_as_user(cloud) else None,
        lock=_tenancy_lock(tenancy.pk),
        user=user,
    )


def cloud_acts_as_user(cloud: Cloud) -> bool:
    """Whether the cloud acts only as the person who asked (per-user federation):
    then only work someone asked for can reach it, and the periodic sync skips it."""
    return cloud.driver == "openstack" and (cloud.options or {}).get("auth") == FEDERATED


def _tenancy_lock(tenancy_pk: int) -> Callable[[], contextlib.AbstractContextManager[object]]:
    """A lock on the tenancy's row, held until the block ends: the first machines of a new
    project are often asked for together, and only one job may make its network."""

    @contextlib.contextmanager
    def hold() -> Iterator[None]:
        from apps.tenancies.models import Tenancy

        with transaction.atomic():
            Tenancy.objects.select_for_update().filter(pk=tenancy_pk).first()
            yield

    return hold


def _oidc_token(cloud: Cloud, user: User | None) -> Callable[[], str]:
    """The token source of a federated cloud: the user's OIDC access token (renewed with
    their refresh token when it has expired), or the error that says what they can do."""

    def sign_in_again(why: str) -> Authentication:
        return Authentication(f"Sign in again so Atrium can act for you on {cloud.name}: {why}")

    def token() -> str:
        from apps.accounts.services import OidcTokenRefreshError, oidc_access_token

        if user is None:
            raise sign_in_again(
                "this cloud runs everything as the person who asked, and no signed-in person asked for this."
            )
        try:
            access = oidc_access_token(user=user)
        except OidcTokenRefreshError as exc:
            raise Communication(
                f"Your institution's sign-in service could not be reached to renew your access to "
                f"{cloud.name} ({exc}). Try again in a few minutes."
            ) from None
        if not access:
            raise sign_in_again("your sign-in with your institution has expired (or was not an OIDC sign-in).")
        return access

    return token
