"""Which driver serves a cloud: chosen by `Cloud.driver`, imported on first use
(so the embedded mode never imports openstacksdk)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.module_loading import import_string

from .base import CloudDriver
from .errors import Unsupported

if TYPE_CHECKING:
    from apps.accounts.models import User
    from apps.tenancies.models import Cloud, Tenancy

#: `Cloud.options["auth"]` of a cloud set up for per-user federation.
FEDERATED = "federated"

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
    return driver_class(tenancy=tenancy, user=user)


def cloud_acts_as_user(cloud: Cloud) -> bool:
    """Whether the cloud acts only as the person who asked (per-user federation):
    then only work someone asked for can reach it, and the periodic sync skips it."""
    return cloud.driver == "openstack" and (cloud.options or {}).get("auth") == FEDERATED
