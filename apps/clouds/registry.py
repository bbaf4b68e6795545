"""Which driver serves a cloud: chosen by `Cloud.driver`, imported on first use
(so the embedded mode never imports openstacksdk)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.module_loading import import_string

from .base import CloudDriver
from .errors import Unsupported

if TYPE_CHECKING:
    from apps.tenancies.models import Tenancy

DRIVERS: dict[str, str] = {
    "local": "apps.clouds.local.driver.LocalDriver",
    "openstack": "apps.clouds.openstack.driver.OpenStackDriver",
}


def driver_for_tenancy(tenancy: Tenancy) -> CloudDriver:
    """The driver bound to `tenancy`'s project on its cloud."""
    path = DRIVERS.get(tenancy.cloud.driver)
    if path is None:
        raise Unsupported(f"The cloud {tenancy.cloud.name!r} uses an unknown driver {tenancy.cloud.driver!r}.")
    driver_class: type[CloudDriver] = import_string(path)
    return driver_class(tenancy=tenancy)
