"""The local driver: a cloud simulated in the database, composed of one class per
family (`compute`, `network`, `storage`, `kubernetes`, `reservations`; `base` is
what they share, `convert` makes dtos of its rows, `capacity` does the hosts' sums).

Statuses move on by time, not by threads: an action sets the status it starts
in (BUILD, STOPPING...) and the one it settles to with a time; every read first
applies the transitions whose time has passed, in one UPDATE, so all web and
worker processes agree. Delays come from the cloud's `options`
(`build_seconds`, `action_seconds`, `cluster_seconds`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..base import Capabilities
from .compute import LocalCompute, ssh_fingerprint
from .kubernetes import LocalKubernetes
from .network import LocalNetworks
from .reservations import LocalReservations
from .storage import LocalStorage

__all__ = ["LocalDriver", "ssh_fingerprint"]

#: The local cloud offers every optional family; of consoles only the log (no web console).
_OFFERED: dict[str, Any] = {flag.name: True for flag in dataclasses.fields(Capabilities) if flag.name != "console"}
LOCAL_CAPABILITIES = Capabilities(**_OFFERED)


class LocalDriver(LocalCompute, LocalNetworks, LocalStorage, LocalKubernetes, LocalReservations):
    name = "local"

    def capabilities(self) -> Capabilities:
        return LOCAL_CAPABILITIES
