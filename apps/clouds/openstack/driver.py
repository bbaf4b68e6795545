"""The OpenStack driver. It talks to the cloud only through `sdk` (openstacksdk
and keystoneauth), turns every SDK object into an `apps.clouds.dto` dataclass
(`convert`) before returning, and lets `sdk.translate_errors` turn every failure
into an `apps.clouds.errors` one. It is composed of one class per family:
`compute`, `network`, `storage`, `kubernetes`, `reservations` (and `base`, the
connection they share).

Configuration (its `Target`, made by apps.clouds.registry): `endpoint` is the
Keystone URL; `options` (`Cloud.options`) may hold `region_name`, `interface`,
`verify`, `cacert`, `network_name` (the name of the network Atrium makes for a
project without one; default `atrium-internal`) and `network_cidr`; the
credentials are `Cloud.credentials` with the tenancy's own `Tenancy.credentials`
merged over them (normally the project's application credential).

A plain machine create (no key pair, no lease, no external IP) is one call,
`POST servers`, when the caller passes the network and shared firewall it keeps
(`network_id`, `firewall_id`; Atrium's create job does, from the catalogue): no
network, subnet, security-group or flavor call and no GET of the new server
(`OpenStackCompute._machine_create`). Its caller then looks at the server
(`GET servers/{id}`) until it is built. Without those ids the driver finds the
project's network (two calls, or makes it) and shared security group (two
calls, or makes it: a group and its two rules). Counted with the rig in
tests/contract/test_create_calls.py.

Per-user federation: with `options["auth"] = "federated"` (and `identity_provider`,
`protocol` (default `openid`): the names of Keystone's OS-FEDERATION identity
provider and protocol), the driver stores and uses no credential of its own. It
acts as the user it was made for, whose OIDC access token (the target's `token`
source) keystoneauth exchanges for a Keystone token scoped to the project.
Without a user or a usable token it raises Authentication.
"""

from __future__ import annotations

from .. import dto
from ..base import Capabilities
from .compute import OpenStackCompute
from .kubernetes import OpenStackKubernetes
from .network import OpenStackNetwork
from .reservations import OpenStackReservations
from .sdk import translate_errors
from .storage import OpenStackStorage


class OpenStackDriver(OpenStackCompute, OpenStackNetwork, OpenStackStorage, OpenStackKubernetes, OpenStackReservations):
    name = "openstack"

    @translate_errors
    def capabilities(self) -> Capabilities:
        services = self._services
        return Capabilities(
            external_ips="network" in services,
            firewall="network" in services,
            volumes=bool({"block-storage", "volumev3", "volume"} & services),
            keypairs=True,
            console_log=True,
            console=dto.ConsoleKind.NOVNC,
            kubernetes="container-infrastructure-management" in services or "container-infra" in services,
            leases="reservation" in services,
            host_capacity=False,  # hypervisor details are for cloud admins only
        )
