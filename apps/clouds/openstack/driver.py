"""The OpenStack driver. It talks to the cloud only through `sdk` (openstacksdk
and keystoneauth), turns every SDK object into an `apps.clouds.dto` dataclass
before returning, and lets `sdk.translate_errors` turn every failure into an
`apps.clouds.errors` one.

Configuration: `Cloud.endpoint` is the Keystone URL; `Cloud.options` may hold
`region_name`, `interface`, `verify`, `cacert`, `network_name` (the name of the
network Atrium makes for a project without one; default `atrium-internal`) and
`network_cidr`; the credentials are `Cloud.credentials` with the tenancy's own
`Tenancy.credentials` merged over them (normally the project's application
credential).

Per-user federation: with `Cloud.options["auth"] = "federated"` (and
`identity_provider`, `protocol` (default `openid`): the names of Keystone's
OS-FEDERATION identity provider and protocol), the driver stores and uses no
credential of its own. It acts as the user it was made for (`user=`), whose
OIDC access token (apps.accounts, kept from their sign-in and renewed with the
refresh token) keystoneauth exchanges for a Keystone token scoped to the
tenancy's project. Without a user or a usable token it raises Authentication.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.db import transaction
from django.utils.dateparse import parse_datetime

from .. import dto
from ..base import (
    FIREWALL_DEFAULT_RULES,
    Capabilities,
    CloudDriver,
    firewall_rule_clean,
    machine_name_clean,
    require_aware,
)
from ..errors import Authentication, BadInput, CloudError, Communication, InvalidOperation, NotFound, Unsupported
from ..registry import cloud_acts_as_user
from . import sdk
from .sdk import ksa_errors, translate_errors

if TYPE_CHECKING:
    from apps.accounts.models import User
    from apps.tenancies.models import Tenancy

S = dto.MachineStatus
_SERVER_STATUS = {
    "ACTIVE": S.ACTIVE,
    "BUILD": S.BUILD,
    "SHUTOFF": S.STOPPED,
    "REBOOT": S.REBOOTING,
    "HARD_REBOOT": S.REBOOTING,
    "ERROR": S.ERROR,
    "DELETED": S.DELETING,
    "SOFT_DELETED": S.DELETING,
}
_TASK_STATUS = {
    "powering-off": S.STOPPING,
    "powering-on": S.STARTING,
    "rebooting": S.REBOOTING,
    "rebooting_hard": S.REBOOTING,
    "reboot_pending": S.REBOOTING,
    "reboot_started": S.REBOOTING,
    "deleting": S.DELETING,
}
_VOLUME_STATUS = {
    "creating": dto.VolumeStatus.CREATING,
    "available": dto.VolumeStatus.AVAILABLE,
    "attaching": dto.VolumeStatus.ATTACHING,
    "in-use": dto.VolumeStatus.IN_USE,
    "detaching": dto.VolumeStatus.DETACHING,
    "deleting": dto.VolumeStatus.DELETING,
    "error": dto.VolumeStatus.ERROR,
}
_IMAGE_STATUS = {"active": dto.ImageStatus.ACTIVE, "queued": dto.ImageStatus.QUEUED, "killed": dto.ImageStatus.ERROR}
_BLAZAR_TIME = "%Y-%m-%d %H:%M"
#: Marks the security groups that are one machine's own firewall (Atrium made them; it removes them).
_FIREWALL_MARK = "Atrium: one machine's own firewall, removed with it."
#: The server metadata key naming the machine's own security group.
_FIREWALL_METADATA = "atrium_firewall"
#: How long deleting a machine waits for Nova to let go of its firewall before leaving it to a later sweep.
_FIREWALL_RELEASE_SECONDS = 60.0
#: A firewall no port uses is swept only when older than this (younger ones may be a boot in progress).
_FIREWALL_SWEEP_AGE = timedelta(hours=1)


class OpenStackDriver(CloudDriver):
    name = "openstack"

    def __init__(self, *, tenancy: Tenancy, user: User | None = None):
        super().__init__(tenancy=tenancy, user=user)
        # Refuse at once, before any job stage starts, when there is no one to act as.
        self._access_token = self._user_access_token() if self.federated else None

    @property
    def federated(self) -> bool:
        """Whether this cloud acts as each user (per-user OIDC federation)."""
        return cloud_acts_as_user(self.cloud)

    def _sign_in_again(self, why: str) -> Authentication:
        return Authentication(f"Sign in again so Atrium can act for you on {self.cloud.name}: {why}")

    def _user_access_token(self) -> str:
        from apps.accounts.services import OidcTokenRefreshError, oidc_access_token

        if self.user is None:
            raise self._sign_in_again(
                "this cloud runs everything as the person who asked, and no signed-in person asked for this."
            )
        try:
            token = oidc_access_token(user=self.user)
        except OidcTokenRefreshError as exc:
            raise Communication(
                f"Your institution's sign-in service could not be reached to renew your access to "
                f"{self.cloud.name} ({exc}). Try again in a few minutes."
            ) from None
        if not token:
            raise self._sign_in_again("your sign-in with your institution has expired (or was not an OIDC sign-in).")
        return token

    def _credentials(self) -> dict[str, Any]:
        if not self.federated:
            return {**(self.cloud.credentials or {}), **(self.tenancy.credentials or {})}
        options = self.cloud.options or {}
        if not options.get("identity_provider"):
            raise CloudError(
                f"{self.cloud.name} is set up for per-user federation without an identity provider: an operator "
                "must set the cloud's options identity_provider (and protocol) to Keystone's names for them."
            )
        return {
            "identity_provider": str(options["identity_provider"]),
            "protocol": str(options.get("protocol") or "openid"),
            "access_token": self._access_token,
        }

    @functools.cached_property
    def _conn(self) -> sdk.Connection:
        connection = sdk.connect(
            auth_url=self.cloud.endpoint,
            project_id=self.project_id,
            credentials=self._credentials(),
            options=self.cloud.options or {},
        )
        if self.federated:
            # Exchange the user's token now, so a refusal says what the user can do about it.
            try:
                sdk.authenticate(connection)
            except Authentication as exc:
                said = sdk.details(exc.__cause__)
                raise self._sign_in_again(
                    f"it did not accept your identity for project {self.project_id}" + (f" ({said})." if said else ".")
                ) from exc
            except NotFound as exc:
                raise CloudError(
                    f"{self.cloud.name}'s Keystone does not know the identity provider or protocol Atrium is set up "
                    f"with ({sdk.details(exc.__cause__)}); an operator must correct the cloud's options."
                ) from exc
        return connection

    @property
    def _application_credential(self) -> bool:
        credentials = self._credentials()
        return bool(credentials.get("application_credential_id") or credentials.get("application_credential_name"))

    @functools.cached_property
    def _project(self) -> str:
        """The project the token is scoped to (an application credential decides it)."""
        project = self._conn.current_project_id
        if not project:
            raise InvalidOperation("The cloud's credentials are not scoped to a project.")
        return str(project)

    @functools.cached_property
    def _services(self) -> set[str]:
        catalog = self._conn.config.get_service_catalog()
        return {str(entry.get("type")) for entry in (catalog.catalog if catalog else [])}

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

    # Images, sizes, networks, quotas --------------------------------------------------------

    @translate_errors
    def images(self) -> list[dto.Image]:
        return [_image(image) for image in self._conn.image.images(status="active")]

    @translate_errors
    def image_get(self, *, image_id: str) -> dto.Image:
        return _image(self._conn.image.get_image(image_id))

    @translate_errors
    def sizes(self) -> list[dto.Size]:
        # Blazar's flavors for instance reservations are booted into through the lease, not picked.
        return [
            _size(flavor)
            for flavor in self._conn.compute.flavors(details=True)
            if "aggregate_instance_extra_specs:reservation" not in (flavor.extra_specs or {})
        ]

    @translate_errors
    def size_get(self, *, size_id: str) -> dto.Size:
        return _size(self._conn.compute.get_flavor(size_id))

    @translate_errors
    def networks(self) -> list[dto.Network]:
        net = self._conn.network
        cidrs = {subnet.network_id: subnet.cidr for subnet in net.subnets(ip_version=4)}
        seen: dict[str, dto.Network] = {}
        for network in [*net.networks(project_id=self._project), *net.networks(is_router_external=True)]:
            seen[network.id] = _network(network, cidrs.get(network.id, ""))
        return list(seen.values())

    @translate_errors
    def tenant_network(self) -> dto.Network:
        """The project's network (the first it owns that is not external); made, with a
        subnet and a router to the external network, when it has none, as Azimuth does."""
        own = self._own_network()
        if own is not None:
            return own
        from apps.tenancies.models import Tenancy

        # The first machines of a new project are often asked for together: one job
        # makes the network while the others wait on the tenancy's row, then find it.
        with transaction.atomic():
            Tenancy.objects.select_for_update().filter(pk=self.tenancy.pk).first()
            return self._own_network() or self._network_create()

    def _own_network(self) -> dto.Network | None:
        """The project's first network with an IPv4 subnet (one without is no use to a machine,
        and may be one that another job is still setting up)."""
        for network in self._conn.network.networks(project_id=self._project):
            if network.is_router_external:
                continue
            subnets = list(self._conn.network.subnets(network_id=network.id, ip_version=4))
            if subnets:
                return _network(network, subnets[0].cidr)
        return None

    def _network_create(self) -> dto.Network:
        net = self._conn.network
        external = self._external_network()
        options = self.cloud.options or {}
        name = str(options.get("network_name", "atrium-internal"))
        network = net.create_network(name=name)
        subnet = net.create_subnet(
            name=f"{name}-subnet",
            network_id=network.id,
            ip_version=4,
            cidr=str(options.get("network_cidr", "192.168.3.0/24")),
        )
        router = net.create_router(name=f"{name}-router", external_gateway_info={"network_id": external.id})
        net.add_interface_to_router(router, subnet=subnet.id)
        return _network(network, subnet.cidr)

    def _external_network(self) -> Any:
        for network in self._conn.network.networks(is_router_external=True):
            return network
        raise InvalidOperation("The cloud has no external network to reach the internet through.")

    @translate_errors
    def quotas(self) -> list[dto.Quota]:
        compute = self._conn.compute.get_quota_set(self._project, usage=True)
        usage = compute.usage or {}
        quotas = [
            _quota("machines", "machines", compute.instances, usage.get("instances", 0)),
            _quota("cpus", "CPUs", compute.cores, usage.get("cores", 0)),
            _quota("ram_mb", "RAM", compute.ram, usage.get("ram", 0), "MB"),
        ]
        if "network" in self._services:
            network = self._conn.network.get_quota(self._project, details=True)
            floating = network.floating_ips or {}
            quotas.append(_quota("external_ips", "external IPs", floating.get("limit"), floating.get("used", 0)))
            groups = network.security_groups or {}
            quotas.append(_quota("firewalls", "machine firewalls", groups.get("limit"), groups.get("used", 0)))
        if self.capabilities().volumes:
            volume = self._conn.block_storage.get_quota_set(self._project, usage=True)
            used = volume.usage or {}
            quotas.append(_quota("volumes", "volumes", volume.volumes, used.get("volumes", 0)))
            quotas.append(_quota("volume_gb", "volume storage", volume.gigabytes, used.get("gigabytes", 0), "GB"))
        return quotas

    # Machines -------------------------------------------------------------------------

    @functools.cached_property
    def _flavor_ids(self) -> dict[str, str]:
        """Flavor name to id: servers at compute microversion 2.47+ name their flavor only."""
        return {flavor.name: flavor.id for flavor in self._conn.compute.flavors(details=False)}

    def _machine(self, server: Any) -> dto.Machine:
        flavor = server.flavor or {}
        name = flavor.get("original_name") or flavor.get("name")
        size_id = self._flavor_ids.get(name) if name else None  # 2.47+: the SDK puts the name in `id`
        size_id = size_id or str(flavor.get("id") or "")
        return _machine(server, size_id)

    @translate_errors
    def machines(self) -> list[dto.Machine]:
        return [self._machine(server) for server in self._conn.compute.servers(details=True)]

    @translate_errors
    def machine_get(self, *, machine_id: str) -> dto.Machine:
        return self._machine(self._conn.compute.get_server(machine_id))

    @translate_errors
    def machine_create(
        self,
        *,
        name: str,
        image_id: str,
        size_id: str,
        network_id: str | None = None,
        key_name: str | None = None,
        user_data: str | None = None,
        metadata: Mapping[str, str] | None = None,
        lease_id: str | None = None,
    ) -> dto.Machine:
        name = machine_name_clean(name)
        attrs: dict[str, Any] = {
            "name": name,
            "image_id": image_id,
            "flavor_id": size_id,
            "networks": [{"uuid": network_id or self.tenant_network().id}],
        }
        if key_name:
            attrs["key_name"] = key_name
        if user_data:
            attrs["user_data"] = base64.b64encode(user_data.encode()).decode()
        if lease_id:
            lease = self.lease_get(lease_id=lease_id)
            if lease.status != dto.LeaseStatus.ACTIVE:
                raise InvalidOperation(f"The lease {lease.name} is not active now, so nothing can start in it.")
            attrs.update(self._into_reservation(lease, size_id))
        group = self._firewall_create(name) if self.capabilities().firewall else None
        if group is not None:
            # Its own group for what may come in, and the project's default group so the
            # tenancy's machines still reach each other.
            attrs["security_groups"] = [{"name": group.id}, {"name": "default"}]
            metadata = {**(metadata or {}), _FIREWALL_METADATA: group.id}
        if metadata:
            attrs["metadata"] = dict(metadata)
        try:
            server = self._conn.compute.create_server(**attrs)
        except Exception:
            if group is not None:
                with contextlib.suppress(*sdk.CLIENT_ERRORS):
                    self._conn.network.delete_security_group(group)
            raise
        return self.machine_get(machine_id=server.id)

    def _into_reservation(self, lease: dto.Lease, size_id: str) -> dict[str, Any]:
        """What boots a server into the lease: Blazar's scheduler hint for reserved hosts; for
        reserved instances, the flavor Blazar made for the reservation of this size."""
        hosts = [r for r in lease.reservations if r.kind == dto.ReservationKind.HOST]
        if hosts:
            return {"scheduler_hints": {"reservation": hosts[0].id}}
        size = self.size_get(size_id=size_id)
        for reservation in lease.reservations:
            extra = reservation.extra
            if (extra.get("vcpus"), extra.get("memory_mb"), extra.get("disk_gb")) == (
                size.cpus,
                size.ram_mb,
                size.disk_gb,
            ):
                group = extra.get("server_group_id")
                return {"flavor_id": extra["flavor_id"], **({"scheduler_hints": {"group": group}} if group else {})}
        raise BadInput(
            f"The lease {lease.name} reserves no machines of size {size.name}.",
            fields={"size_id": ["Not a size the lease reserves."]},
        )

    def _server_action(self, machine_id: str, verb: str) -> None:
        server = self._conn.compute.get_server(machine_id)
        if verb == "start":
            self._conn.compute.start_server(server)
        elif verb == "stop":
            self._conn.compute.stop_server(server)
        else:
            self._conn.compute.reboot_server(server, verb)

    @translate_errors
    def machine_start(self, *, machine_id: str) -> dto.Machine:
        self._server_action(machine_id, "start")
        return self.machine_get(machine_id=machine_id)

    @translate_errors
    def machine_stop(self, *, machine_id: str) -> dto.Machine:
        self._server_action(machine_id, "stop")
        return self.machine_get(machine_id=machine_id)

    @translate_errors
    def machine_reboot(self, *, machine_id: str, hard: bool = False) -> dto.Machine:
        self._server_action(machine_id, "HARD" if hard else "SOFT")
        return self.machine_get(machine_id=machine_id)

    @translate_errors
    def machine_delete(self, *, machine_id: str) -> None:
        server = self._conn.compute.get_server(machine_id)
        self._conn.compute.delete_server(server, ignore_missing=False)
        group_id = (server.metadata or {}).get(_FIREWALL_METADATA)
        if group_id:
            self._firewall_release(server.id, group_id)

    @translate_errors
    def machine_console_log(self, *, machine_id: str, lines: int | None = None) -> str:
        if lines is not None and lines <= 0:
            return ""
        output = self._conn.compute.get_server_console_output(machine_id, length=lines)
        return str(output.get("output") or "")

    @translate_errors
    def machine_console(self, *, machine_id: str) -> dto.ConsoleAccess:
        # The remote-consoles API (compute 2.6+); the old os-getVNCConsole action is gone.
        console = self._conn.compute.create_server_remote_console(machine_id, protocol="vnc", type="novnc")
        url = console.url
        if not url:
            raise InvalidOperation("The cloud gave no console address for this machine.")
        return dto.ConsoleAccess(kind=dto.ConsoleKind.NOVNC, url=str(url))

    # A machine's own firewall: one security group per machine ---------------------------

    def _firewall_create(self, machine_name: str) -> Any:
        net = self._conn.network
        group = net.create_security_group(name=f"atrium-{machine_name}"[:255], description=_FIREWALL_MARK)
        try:
            for protocol, port_min, port_max, cidr in FIREWALL_DEFAULT_RULES:
                self._firewall_rule_create(group.id, protocol, port_min, port_max, cidr)
        except Exception:
            with contextlib.suppress(*sdk.CLIENT_ERRORS):
                net.delete_security_group(group)
            raise
        return group

    def _firewall_rule_create(
        self, group_id: str, protocol: dto.FirewallProtocol, port_min: int | None, port_max: int | None, cidr: str
    ) -> Any:
        ipv6 = ":" in cidr
        neutron_protocol: str | None = protocol.value
        if protocol == dto.FirewallProtocol.ANY:
            neutron_protocol = None
        elif protocol == dto.FirewallProtocol.ICMP and ipv6:
            neutron_protocol = "ipv6-icmp"
        return self._conn.network.create_security_group_rule(
            security_group_id=group_id,
            direction="ingress",
            ethertype="IPv6" if ipv6 else "IPv4",
            protocol=neutron_protocol,
            port_range_min=port_min,
            port_range_max=port_max,
            remote_ip_prefix=cidr,
        )

    def _firewall_of(self, machine_id: str) -> str:
        server = self._conn.compute.get_server(machine_id)
        group_id = (server.metadata or {}).get(_FIREWALL_METADATA)
        if not group_id:
            raise InvalidOperation(
                f"The machine {server.name} was not made by Atrium, so it has no firewall of its own here; "
                "its security groups are managed in OpenStack."
            )
        return str(group_id)

    def _firewall_rules(self, group_id: str) -> list[dto.FirewallRule]:
        rules = self._conn.network.security_group_rules(security_group_id=group_id, direction="ingress")
        return [_firewall_rule(rule) for rule in rules]

    def _firewall_release(self, server_id: str, group_id: str) -> None:
        """Delete a deleted machine's firewall once Nova has let go of it (bounded), then
        any other old Atrium firewall left behind with no port using it."""
        deadline = time.monotonic() + _FIREWALL_RELEASE_SECONDS
        while self._conn.compute.find_server(server_id, ignore_missing=True) is not None:
            if time.monotonic() > deadline:
                break
            time.sleep(1)
        net = self._conn.network
        groups = list(net.security_groups(project_id=self._project, description=_FIREWALL_MARK))
        in_use = {group for port in net.ports(project_id=self._project) for group in port.security_group_ids or []}
        old = datetime.now(UTC) - _FIREWALL_SWEEP_AGE
        for group in groups:
            created = _when(group.created_at)
            mine = group.id == group_id
            if group.id in in_use or not (mine or (created is not None and created < old)):
                continue
            with contextlib.suppress(*sdk.CLIENT_ERRORS):
                net.delete_security_group(group)

    @translate_errors
    def machine_firewall(self, *, machine_id: str) -> list[dto.FirewallRule]:
        return self._firewall_rules(self._firewall_of(machine_id))

    @translate_errors
    def machine_firewalls(self, *, machine_ids: Sequence[str]) -> dict[str, list[dto.FirewallRule] | None]:
        # Three calls whatever the number of machines: Atrium's groups, their rules, and the
        # ports that say which server is in which group.
        net = self._conn.network
        groups = {g.id for g in net.security_groups(project_id=self._project, description=_FIREWALL_MARK)}
        rules: dict[str, list[dto.FirewallRule]] = {group: [] for group in groups}
        for rule in net.security_group_rules(project_id=self._project, direction="ingress"):
            if rule.security_group_id in rules:
                rules[rule.security_group_id].append(_firewall_rule(rule))
        wanted = set(machine_ids)
        found: dict[str, list[dto.FirewallRule] | None] = {}
        for port in net.ports(project_id=self._project):
            if port.device_id not in wanted or not str(port.device_owner or "").startswith("compute:"):
                continue
            own = [group for group in port.security_group_ids or [] if group in rules]
            if own:
                found[port.device_id] = rules[own[0]]
            else:
                found.setdefault(port.device_id, None)
        return found

    @translate_errors
    def machine_firewall_rule_add(
        self,
        *,
        machine_id: str,
        protocol: str,
        port_min: int | None = None,
        port_max: int | None = None,
        remote_cidr: str | None = None,
    ) -> dto.FirewallRule:
        kind, port_min, port_max, cidr = firewall_rule_clean(
            protocol=protocol, port_min=port_min, port_max=port_max, remote_cidr=remote_cidr
        )
        group_id = self._firewall_of(machine_id)
        wanted = (kind.value, port_min, port_max, cidr)
        if any(r.key == wanted for r in self._firewall_rules(group_id)):
            raise InvalidOperation("The machine's firewall already lets that in.")
        return _firewall_rule(self._firewall_rule_create(group_id, kind, port_min, port_max, cidr))

    @translate_errors
    def machine_firewall_rule_remove(self, *, machine_id: str, rule_id: str) -> None:
        group_id = self._firewall_of(machine_id)
        rule = self._conn.network.get_security_group_rule(rule_id)
        if rule.security_group_id != group_id or rule.direction != "ingress":
            raise NotFound(f"The machine has no firewall rule {rule_id}.")
        self._conn.network.delete_security_group_rule(rule, ignore_missing=False)

    # Key pairs -------------------------------------------------------------------------

    @translate_errors
    def keypairs(self) -> list[dto.KeyPair]:
        return [_keypair(key) for key in self._conn.compute.keypairs()]

    @translate_errors
    def keypair_import(self, *, name: str, public_key: str) -> dto.KeyPair:
        return _keypair(self._conn.compute.create_keypair(name=name, public_key=public_key))

    @translate_errors
    def keypair_delete(self, *, name: str) -> None:
        self._conn.compute.delete_keypair(name, ignore_missing=False)

    # External IPs ----------------------------------------------------------------------

    def _port_devices(self) -> dict[str, str]:
        return {port.id: port.device_id for port in self._conn.network.ports(project_id=self._project)}

    @translate_errors
    def external_ips(self) -> list[dto.ExternalIp]:
        devices = self._port_devices()
        return [_ip(ip, devices) for ip in self._conn.network.ips(project_id=self._project)]

    def _get_ip(self, ip_id: str) -> Any:
        return self._conn.network.get_ip(ip_id)

    @translate_errors
    def external_ip_allocate(self) -> dto.ExternalIp:
        ip = self._conn.network.create_ip(floating_network_id=self._external_network().id)
        return _ip(ip, {})

    @translate_errors
    def external_ip_attach(self, *, ip_id: str, machine_id: str) -> dto.ExternalIp:
        ip = self._get_ip(ip_id)
        server = self._conn.compute.get_server(machine_id)
        ports = list(self._conn.network.ports(device_id=server.id))
        if not ports:
            raise InvalidOperation(f"The machine {server.name} has no network port to attach an address to yet.")
        if ip.port_id and ip.port_id != ports[0].id:
            raise InvalidOperation(f"The address {ip.floating_ip_address} is attached to another machine.")
        ip = self._conn.network.update_ip(ip, port_id=ports[0].id)
        return _ip(ip, {ports[0].id: server.id})

    @translate_errors
    def external_ip_detach(self, *, ip_id: str) -> dto.ExternalIp:
        ip = self._conn.network.update_ip(self._get_ip(ip_id), port_id=None)
        return _ip(ip, {})

    @translate_errors
    def external_ip_release(self, *, ip_id: str) -> None:
        self._conn.network.delete_ip(ip_id, ignore_missing=False)

    # Volumes ------------------------------------------------------------------------------

    def _volumes_offered(self) -> None:
        if not self.capabilities().volumes:
            self._unsupported("volumes")

    @translate_errors
    def volumes(self) -> list[dto.Volume]:
        self._volumes_offered()
        return [_volume(v) for v in self._conn.block_storage.volumes(details=True)]

    @translate_errors
    def volume_get(self, *, volume_id: str) -> dto.Volume:
        self._volumes_offered()
        return _volume(self._conn.block_storage.get_volume(volume_id))

    @translate_errors
    def volume_create(self, *, name: str, size_gb: int) -> dto.Volume:
        self._volumes_offered()
        if size_gb < 1:
            raise BadInput("A volume needs a size of at least 1 GB.", fields={"size_gb": ["At least 1."]})
        return _volume(self._conn.block_storage.create_volume(name=name, size=size_gb))

    @translate_errors
    def volume_attach(self, *, volume_id: str, machine_id: str) -> dto.Volume:
        self._volumes_offered()
        self._conn.compute.create_volume_attachment(machine_id, volume_id=volume_id)
        return self.volume_get(volume_id=volume_id)

    @translate_errors
    def volume_detach(self, *, volume_id: str) -> dto.Volume:
        self._volumes_offered()
        volume = self._conn.block_storage.get_volume(volume_id)
        if not volume.attachments:
            raise InvalidOperation(f"The volume {volume.name or volume.id} is not attached to anything.")
        self._conn.compute.delete_volume_attachment(volume.id, volume.attachments[0]["server_id"])
        return self.volume_get(volume_id=volume_id)

    @translate_errors
    def volume_delete(self, *, volume_id: str) -> None:
        self._volumes_offered()
        self._conn.block_storage.delete_volume(volume_id, ignore_missing=False)

    # Kubernetes (Magnum) ----------------------------------------------------------------
    # Follows Magnum's API reference (container-infra, API v1); tested against recorded
    # responses (tests/contract/test_magnum_recorded.py) until a real Magnum runs here.

    @property
    def _magnum(self) -> Any:
        if not self.capabilities().kubernetes:
            self._unsupported("Kubernetes clusters")
        return self._conn.container_infrastructure_management

    @translate_errors
    def cluster_templates(self) -> list[dto.KubernetesClusterTemplate]:
        return [
            dto.KubernetesClusterTemplate(
                id=t.id,
                name=t.name,
                kubernetes_version=str((t.labels or {}).get("kube_tag", "")),
                master_size_id=t.master_flavor_id,
                worker_size_id=t.flavor_id,
                extra={"coe": t.coe},
            )
            for t in self._magnum.cluster_templates()
            if t.coe == "kubernetes"
        ]

    @translate_errors
    def clusters(self) -> list[dto.KubernetesCluster]:
        # Magnum's list (GET /v1/clusters) is a summary without the Kubernetes version,
        # the API address or the status reason; only a cluster's own page has them.
        found = []
        for summary in self._magnum.clusters():
            try:
                found.append(self.cluster_get(cluster_id=summary.id))
            except NotFound:
                continue  # deleted since the list was read
        return found

    @translate_errors
    def cluster_get(self, *, cluster_id: str) -> dto.KubernetesCluster:
        return _cluster(self._magnum.get_cluster(cluster_id))

    @translate_errors
    def cluster_create(
        self,
        *,
        name: str,
        template_id: str,
        worker_count: int,
        worker_size_id: str | None = None,
        master_count: int = 1,
        key_name: str | None = None,
    ) -> dto.KubernetesCluster:
        if worker_count < 1:
            raise BadInput("A cluster needs at least one worker node.", fields={"worker_count": ["At least 1."]})
        attrs: dict[str, Any] = {
            "name": name,
            "cluster_template_id": template_id,
            "node_count": worker_count,
            "master_count": master_count,
        }
        if worker_size_id:
            attrs["flavor_id"] = worker_size_id
        if key_name:
            attrs["keypair"] = key_name
        cluster = self._magnum.create_cluster(**attrs)
        return self.cluster_get(cluster_id=cluster.id)

    def _cluster_action(self, cluster_id: str, action: str, body: dict[str, Any], microversion: str) -> None:
        """POST /v1/clusters/{id}/actions/{action} at the API microversion that has it.

        Not openstacksdk's Cluster.resize/upgrade: they send no microversion, so Magnum
        serves its base 1.1 and answers 406 (resize needs 1.7, upgrade 1.8), and they
        then index the HTTP response as if it were the body. Magnum reads the header
        only under the service name `container-infra`, whatever the catalogue says.
        """
        try:
            self._magnum.post(
                f"/clusters/{cluster_id}/actions/{action}",
                json=body,
                microversion=microversion,
                microversion_service_type="container-infra",
                raise_exc=True,
            )
        except ksa_errors.HttpError as exc:
            if exc.http_status == 406:
                raise Unsupported(
                    f"{self.cloud.name}'s Kubernetes service (Magnum) is too old to {action} clusters "
                    f"(that needs its API {microversion})."
                ) from exc
            raise

    @translate_errors
    def cluster_resize(self, *, cluster_id: str, worker_count: int) -> dto.KubernetesCluster:
        if worker_count < 1:
            raise BadInput("A cluster needs at least one worker node.", fields={"worker_count": ["At least 1."]})
        self._cluster_action(cluster_id, "resize", {"node_count": worker_count}, "1.7")
        return self.cluster_get(cluster_id=cluster_id)

    @translate_errors
    def cluster_upgrade(self, *, cluster_id: str, template_id: str) -> dto.KubernetesCluster:
        self._cluster_action(cluster_id, "upgrade", {"cluster_template": template_id}, "1.8")
        return self.cluster_get(cluster_id=cluster_id)

    @translate_errors
    def cluster_delete(self, *, cluster_id: str) -> None:
        self._magnum.delete_cluster(cluster_id, ignore_missing=False)

    @translate_errors
    def cluster_kubeconfig(self, *, cluster_id: str) -> str:
        """A kubeconfig with a client certificate Magnum signs, as `openstack coe cluster config` makes."""
        cluster = self._magnum.get_cluster(cluster_id)
        if not cluster.api_address:
            raise InvalidOperation(f"The cluster {cluster.name} has no API address yet.")
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.COMMON_NAME, "admin"),
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
                    ]
                )
            )
            .sign(key, hashes.SHA256())
        )
        signed = self._magnum.create_cluster_certificate(
            cluster_uuid=cluster.id, csr=csr.public_bytes(serialization.Encoding.PEM).decode()
        )
        ca = self._magnum.get_cluster_certificate(cluster.id)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
        return _kubeconfig(
            name=cluster.name,
            server=cluster.api_address,
            ca=str(ca.pem),
            cert=str(signed.pem),
            key=key_pem.decode(),
        )

    # Leases (Blazar) --------------------------------------------------------------------

    @functools.cached_property
    def _blazar(self) -> sdk.Adapter:
        if not self.capabilities().leases:
            self._unsupported("reservations")
        return sdk.adapter(self._conn, service_type="reservation")

    def _blazar_call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self._blazar.request(path, method, json=body, raise_exc=True)
        if response.status_code == 204 or not response.content:
            return {}
        data = response.json()
        return data if isinstance(data, dict) else {}

    @translate_errors
    def leases(self) -> list[dto.Lease]:
        return [_lease(lease) for lease in self._blazar_call("GET", "/leases").get("leases", [])]

    @translate_errors
    def lease_get(self, *, lease_id: str) -> dto.Lease:
        return _lease(self._blazar_call("GET", f"/leases/{lease_id}")["lease"])

    @translate_errors
    def lease_create(
        self, *, name: str, start: datetime, end: datetime, reservations: Sequence[dto.ReservationRequest]
    ) -> dto.Lease:
        require_aware(start=start, end=end)
        if end <= start:
            raise BadInput("A lease must end after it starts.", fields={"end": ["Before the start."]})
        if not reservations:
            raise BadInput("A lease must reserve something: hosts or instances of a size.")
        body_reservations = []
        for request in reservations:
            if request.count < 1:
                raise BadInput("Each reservation needs a count of at least 1.", fields={"count": ["At least 1."]})
            if request.kind == dto.ReservationKind.HOST:
                body_reservations.append(
                    {
                        "resource_type": "physical:host",
                        "min": request.count,
                        "max": request.count,
                        "hypervisor_properties": "",
                        "resource_properties": "",
                    }
                )
            else:
                size = self.size_get(size_id=request.size_id or "")
                body_reservations.append(
                    {
                        "resource_type": "virtual:instance",
                        "amount": request.count,
                        "vcpus": size.cpus,
                        "memory_mb": size.ram_mb,
                        "disk_gb": size.disk_gb,
                        "affinity": False,
                        "resource_properties": "",
                    }
                )
        # Blazar takes minutes and refuses a start in the past: a start within the
        # next minute is "now", which it takes as such.
        starts_now = start <= datetime.now(UTC) + timedelta(minutes=1)
        body = {
            "name": name,
            "start_date": "now" if starts_now else _blazar_time(start),
            "end_date": _blazar_time(end),
            "reservations": body_reservations,
            "events": [],
        }
        try:
            return _lease(self._blazar_call("POST", "/leases", body)["lease"])
        except ksa_errors.InternalServerError as exc:
            translated = sdk.translate(exc)
            if type(translated) is not CloudError or not self._application_credential:
                # Blazar answers 500 for more than one thing; "not enough hosts" (and
                # anything else the translation recognises) is what it says it is.
                raise translated from exc
            # Blazar makes a Keystone trust for every lease; Keystone refuses that to
            # application-credential tokens unless the operator allows it, and Blazar
            # answers only "500". Say what is likely wrong instead.
            raise CloudError(
                "The reservation service could not create the lease. It needs a Keystone trust, which "
                "this project's application credential may not make on this cloud; an operator must "
                "allow it (Keystone's [security_compliance] allow_insecure_application_credential_trust_escalation) "
                "or give the tenancy other credentials."
            ) from exc

    @translate_errors
    def lease_update(self, *, lease_id: str, end: datetime) -> dto.Lease:
        require_aware(end=end)
        return _lease(self._blazar_call("PUT", f"/leases/{lease_id}", {"end_date": _blazar_time(end)})["lease"])

    @translate_errors
    def lease_delete(self, *, lease_id: str) -> None:
        self._blazar_call("DELETE", f"/leases/{lease_id}")


# SDK objects to DTOs (they never leave this module) ------------------------------------------


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = parse_datetime(str(value).replace(" ", "T"))
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _blazar_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime(_BLAZAR_TIME)


def _image(image: Any) -> dto.Image:
    properties = image.properties or {}
    return dto.Image(
        id=image.id,
        name=image.name or image.id,
        status=_IMAGE_STATUS.get(str(image.status), dto.ImageStatus.UNKNOWN),
        os_distro=str(image.os_distro or properties.get("os_distro") or ""),
        os_version=str(image.os_version or properties.get("os_version") or ""),
        min_disk_gb=int(image.min_disk or 0),
        min_ram_mb=int(image.min_ram or 0),
        size_bytes=image.size,
        extra={"visibility": image.visibility, "disk_format": image.disk_format},
    )


def _size(flavor: Any) -> dto.Size:
    specs = flavor.extra_specs or {}
    gpus = 0
    for key, value in specs.items():
        if key in ("resources:VGPU", "resources:PGPU") or key.startswith("pci_passthrough:alias"):
            try:
                gpus += int(str(value).rsplit(":", 1)[-1])
            except ValueError:
                gpus += 1
    return dto.Size(
        id=flavor.id,
        name=flavor.name,
        cpus=int(flavor.vcpus or 0),
        ram_mb=int(flavor.ram or 0),
        disk_gb=int(flavor.disk or 0),
        gpus=gpus,
        description=flavor.description or "",
        extra={"ephemeral_gb": flavor.ephemeral or 0, "is_public": flavor.is_public},
    )


def _network(network: Any, cidr: str) -> dto.Network:
    return dto.Network(
        id=network.id, name=network.name or network.id, external=bool(network.is_router_external), cidr=cidr or ""
    )


def _quota(resource: str, label: str, limit: Any, used: Any, units: str = "") -> dto.Quota:
    value = int(limit) if limit is not None else None
    return dto.Quota(
        resource=resource,
        label=label,
        limit=None if value is None or value < 0 else value,
        used=int(used or 0),
        units=units,
    )


def _machine(server: Any, size_id: str) -> dto.Machine:
    status = _TASK_STATUS.get(str(server.task_state or "")) or _SERVER_STATUS.get(str(server.status), S.UNKNOWN)
    internal = external = None
    for addresses in (server.addresses or {}).values():
        for address in addresses:
            if address.get("version", 4) != 4:
                continue
            if address.get("OS-EXT-IPS:type") == "floating":
                external = external or address.get("addr")
            else:
                internal = internal or address.get("addr")
    image = server.image or {}
    fault = server.fault or {}
    return dto.Machine(
        id=server.id,
        name=server.name,
        status=status,
        image_id=str(image.get("id", "")) if isinstance(image, dict) else "",
        size_id=size_id,
        internal_ip=internal,
        external_ip=external,
        created_at=_when(server.created_at),
        key_name=server.key_name or None,
        fault=str(fault.get("message", "")) if status == S.ERROR else "",
        metadata=dict(server.metadata or {}),
        extra={"power_state": server.power_state, "task_state": server.task_state, "vm_state": server.vm_state},
    )


def _firewall_rule(rule: Any) -> dto.FirewallRule:
    protocol = str(rule.protocol or "any").lower()
    return dto.FirewallRule(
        id=rule.id,
        protocol=dto.FirewallProtocol.ICMP
        if protocol in ("ipv6-icmp", "icmpv6", "1", "58")
        else dto.FirewallProtocol.__members__.get(protocol.upper(), dto.FirewallProtocol.ANY),
        port_min=rule.port_range_min,
        port_max=rule.port_range_max,
        remote_cidr=str(rule.remote_ip_prefix or ("::/0" if rule.ether_type == "IPv6" else "0.0.0.0/0")),
    )


def _keypair(key: Any) -> dto.KeyPair:
    return dto.KeyPair(name=key.name, fingerprint=key.fingerprint or "", public_key=key.public_key or "")


def _ip(ip: Any, devices: Mapping[str, str]) -> dto.ExternalIp:
    return dto.ExternalIp(
        id=ip.id,
        address=ip.floating_ip_address,
        machine_id=devices.get(ip.port_id) if ip.port_id else None,
        extra={"port_id": ip.port_id, "status": ip.status},
    )


def _volume(volume: Any) -> dto.Volume:
    attachment = (volume.attachments or [{}])[0] if volume.attachments else {}
    return dto.Volume(
        id=volume.id,
        name=volume.name or "",
        size_gb=int(volume.size or 0),
        status=_VOLUME_STATUS.get(str(volume.status), dto.VolumeStatus.UNKNOWN),
        machine_id=attachment.get("server_id"),
        device=attachment.get("device"),
    )


def _cluster(cluster: Any) -> dto.KubernetesCluster:
    return dto.KubernetesCluster(
        id=cluster.id,
        name=cluster.name,
        status=dto.ClusterStatus.__members__.get(str(cluster.status), dto.ClusterStatus.UNKNOWN),
        template_id=cluster.cluster_template_id,
        kubernetes_version=str(cluster.coe_version or ""),
        node_groups=(
            dto.NodeGroup(
                name="default-master",
                role="master",
                size_id=cluster.master_flavor_id or "",
                count=cluster.master_count or 0,
            ),
            dto.NodeGroup(
                name="default-worker", role="worker", size_id=cluster.flavor_id or "", count=cluster.node_count or 0
            ),
        ),
        api_address=cluster.api_address or None,
        status_reason=cluster.status_reason or "",
        extra={"stack_id": cluster.stack_id},
    )


_LEASE_STATUS = {status.value: status for status in dto.LeaseStatus}


def _lease(lease: Mapping[str, Any]) -> dto.Lease:
    reservations = []
    for reservation in lease.get("reservations", []):
        host = reservation.get("resource_type") == "physical:host"
        reservations.append(
            dto.Reservation(
                id=str(reservation["id"]),
                kind=dto.ReservationKind.HOST if host else dto.ReservationKind.INSTANCE,
                count=int(reservation.get("max" if host else "amount") or 0),
                size_id=None,
                extra={
                    "status": reservation.get("status"),
                    "resource_id": reservation.get("resource_id"),
                    # an instance reservation's shape, and the flavor and server group to boot into it
                    **{
                        key: reservation[key]
                        for key in ("vcpus", "memory_mb", "disk_gb", "flavor_id", "server_group_id")
                        if key in reservation
                    },
                },
            )
        )
    start = _when(lease.get("start_date"))
    end = _when(lease.get("end_date"))
    if start is None or end is None:
        raise NotFound("The cloud returned a lease without dates.")
    return dto.Lease(
        id=str(lease["id"]),
        name=str(lease.get("name", "")),
        status=_LEASE_STATUS.get(str(lease.get("status", "")).upper(), dto.LeaseStatus.UNKNOWN),
        start=start,
        end=end,
        reservations=tuple(reservations),
        status_reason=str(lease.get("status_reason") or ""),
    )


def _kubeconfig(*, name: str, server: str, ca: str, cert: str, key: str) -> str:
    import yaml

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority-data": b64(ca)}}],
        "users": [{"name": "admin", "user": {"client-certificate-data": b64(cert), "client-key-data": b64(key)}}],
        "contexts": [{"name": "default", "context": {"cluster": name, "user": "admin"}}],
        "current-context": "default",
    }
    return str(yaml.safe_dump(config, sort_keys=False))
