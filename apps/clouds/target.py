"""What a driver is built from: a plain description of its target.

A driver knows nothing of Atrium's other apps. The registry (apps.clouds.registry)
reads the tenancy and its cloud and hands the driver a `Target`: where the cloud
is and how it is configured, the project, the credentials, where a per-user token
comes from and the lock that serialises work the project's jobs must not do twice
at once (e.g. making its network).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

#: `options["auth"]` of a cloud set up for per-user federation.
FEDERATED = "federated"


def no_lock() -> AbstractContextManager[object]:
    """The lock of a target nobody shares (tests, scripts)."""
    return contextlib.nullcontext()


@dataclass(frozen=True)
class Target:
    """One project on one cloud, as a driver needs to know it."""

    #: The id of the cloud's row (the local cloud keeps its state under it).
    cloud_id: int
    #: The cloud's name, for messages people read.
    cloud_name: str
    #: Which driver serves it (`Cloud.driver`).
    driver: str
    #: The cloud's API (OpenStack: the Keystone URL); empty for the local cloud.
    endpoint: str = ""
    #: The cloud's configuration (`Cloud.options`).
    options: Mapping[str, Any] = field(default_factory=dict)
    #: The credentials to act with: the cloud's, with the tenancy's own merged over them.
    credentials: Mapping[str, Any] = field(default_factory=dict)
    #: The project on the cloud.
    project_id: str = ""
    #: Per-user federation: gives the OIDC access token of the person the driver acts
    #: for, or raises (Authentication, Communication) saying what they can do about it.
    token: Callable[[], str] | None = None
    #: Held while the driver does what two jobs of the project must not do at once.
    lock: Callable[[], AbstractContextManager[object]] = no_lock
    #: Who the driver acts for (opaque to drivers; None for the periodic sync).
    user: object | None = None

    @property
    def federated(self) -> bool:
        """Whether the cloud acts only as each user (per-user OIDC federation)."""
        return self.driver == "openstack" and self.options.get("auth") == FEDERATED
