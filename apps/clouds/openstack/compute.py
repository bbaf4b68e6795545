"""The OpenStack compute family (Nova, Glance): images, flavors, quotas, servers,
their consoles and key pairs."""

from __future__ import annotations

import base64
import time
from typing import Any

from .. import dto
from ..base import Pause
from ..errors import BadInput, InvalidOperation
from . import sdk
from .base import OpenStackBase
from .convert import image_dto, keypair_dto, machine_dto, quota_dto, size_dto
from .network import FIREWALL_METADATA, FIREWALL_SHARED_METADATA, firewall_release
from .sdk import translate_errors

#: How long a process keeps a project's flavor names (flavors seldom change; a new one is read at once).
FLAVOR_IDS_SECONDS = 600.0
_FLAVOR_IDS: dict[tuple[str, str], tuple[float, dict[str, str]]] = {}


class OpenStackCompute(OpenStackBase):
    @translate_errors
    def images(self) -> list[dto.Image]:
        return [image_dto(image) for image in self._conn.image.images(status="active")]

    @translate_errors
    def image_get(self, *, image_id: str) -> dto.Image:
        return image_dto(self._conn.image.get_image(image_id))

    @translate_errors
    def sizes(self) -> list[dto.Size]:
        # Blazar's flavors for instance reservations are booted into through the lease, not picked.
        return [
            size_dto(flavor)
            for flavor in self._conn.compute.flavors(details=True)
            if "aggregate_instance_extra_specs:reservation" not in (flavor.extra_specs or {})
        ]

    @translate_errors
    def size_get(self, *, size_id: str) -> dto.Size:
        return size_dto(self._conn.compute.get_flavor(size_id))

    @translate_errors
    def quotas(self) -> list[dto.Quota]:
        compute = self._conn.compute.get_quota_set(self._project, usage=True)
        usage = compute.usage or {}
        quotas = [
            quota_dto("machines", "machines", compute.instances, usage.get("instances", 0)),
            quota_dto("cpus", "CPUs", compute.cores, usage.get("cores", 0)),
            quota_dto("ram_mb", "RAM", compute.ram, usage.get("ram", 0), "MB"),
        ]
        if "network" in self._services:
            network = self._conn.network.get_quota(self._project, details=True)
            floating = network.floating_ips or {}
            quotas.append(quota_dto("external_ips", "external IPs", floating.get("limit"), floating.get("used", 0)))
            groups = network.security_groups or {}
            quotas.append(quota_dto("firewalls", "machine firewalls", groups.get("limit"), groups.get("used", 0)))
        if self.capabilities().volumes:
            volume = self._conn.block_storage.get_quota_set(self._project, usage=True)
            used = volume.usage or {}
            quotas.append(quota_dto("volumes", "volumes", volume.volumes, used.get("volumes", 0)))
            quotas.append(quota_dto("volume_gb", "volume storage", volume.gigabytes, used.get("gigabytes", 0), "GB"))
        return quotas

    # Machines -------------------------------------------------------------------------

    def _flavor_id(self, name: str) -> str | None:
        """A flavor's id from its name: servers at compute microversion 2.47+ name their flavor
        only. The names are listed once per process and project for FLAVOR_IDS_SECONDS (a job's
        looks at a building server need no flavor call), and again for a name not seen, at most
        once a minute."""
        key = (self.target.endpoint, self._project)
        read_at, ids = _FLAVOR_IDS.get(key, (0.0, {}))
        age = time.monotonic() - read_at
        if age > FLAVOR_IDS_SECONDS or (name not in ids and age > 60):
            ids = {flavor.name: flavor.id for flavor in self._conn.compute.flavors(details=False)}
            _FLAVOR_IDS[key] = (time.monotonic(), ids)
        return ids.get(name)

    def _machine(self, server: Any) -> dto.Machine:
        flavor = server.flavor or {}
        name = flavor.get("original_name") or flavor.get("name")
        size_id = self._flavor_id(name) if name else None  # 2.47+: the SDK puts the name in `id`
        size_id = size_id or str(flavor.get("id") or "")
        return machine_dto(server, size_id)

    @translate_errors
    def machines(self) -> list[dto.Machine]:
        return [self._machine(server) for server in self._conn.compute.servers(details=True)]

    @translate_errors
    def machine_get(self, *, machine_id: str) -> dto.Machine:
        return self._machine(self._conn.compute.get_server(machine_id))

    @translate_errors
    def _machine_create(self, spec: dto.MachineSpec) -> dto.Machine:
        network_id = spec.network_id or self.tenant_network().id
        group_id: str | None = None  # the shared firewall's security group, where the cloud has firewalls
        attrs: dict[str, Any] = {
            "name": spec.name,
            "image_id": spec.image_id,
            "flavor_id": spec.size_id,
            "networks": [{"uuid": network_id}],
        }
        if spec.key_name:
            attrs["key_name"] = spec.key_name
        if spec.user_data:
            attrs["user_data"] = base64.b64encode(spec.user_data.encode()).decode()
        if spec.lease_id:
            lease = self.lease_get(lease_id=spec.lease_id)
            if lease.status != dto.LeaseStatus.ACTIVE:
                raise InvalidOperation(f"The lease {lease.name} is not active now, so nothing can start in it.")
            attrs.update(self._into_reservation(lease, spec.size_id))
        metadata = dict(spec.metadata)
        if self.capabilities().firewall:
            # The project's shared firewall (until its rules change: OpenStackNetwork), and the
            # project's default group so the tenancy's machines still reach each other.
            group_id = spec.firewall_id or self.firewall_shared().id
            attrs["security_groups"] = [{"name": group_id}, {"name": "default"}]
            metadata[FIREWALL_METADATA] = group_id
            metadata[FIREWALL_SHARED_METADATA] = "true"
        if metadata:
            attrs["metadata"] = metadata
        try:
            server = self._conn.compute.create_server(**attrs)
        except Exception as exc:
            # As every driver says it (the contract suite checks): the fields name what the project has not.
            unknown = _unknown_inputs(exc, image_id=spec.image_id, network_id=network_id, group_id=group_id)
            if unknown:
                fields = {field: [f"Unknown {field.removesuffix('_id')}."] for field in unknown}
                raise BadInput(" ".join(unknown.values()), fields=fields) from exc
            raise
        # Nova answers a create with the server's id only; what else there is to know, the request
        # says (no GET: the caller's first look at the building server comes soon enough).
        return dto.Machine(
            id=server.id,
            name=spec.name,
            status=dto.MachineStatus.BUILD,
            image_id=spec.image_id,
            size_id=spec.size_id,
            key_name=spec.key_name,
            metadata=metadata,
        )

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
    @translate_errors
    def machine_delete(self, *, machine_id: str, pause: Pause = time.sleep) -> None:
        server = self._conn.compute.get_server(machine_id)
        self._conn.compute.delete_server(server, ignore_missing=False)
        group_id = (server.metadata or {}).get(FIREWALL_METADATA)
        if group_id and (server.metadata or {}).get(FIREWALL_SHARED_METADATA) != "true":  # its own, not the shared
            firewall_release(self._conn, self._project, server.id, group_id, pause=pause)

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

    # Key pairs -------------------------------------------------------------------------

    @translate_errors
    def keypairs(self) -> list[dto.KeyPair]:
        return [keypair_dto(key) for key in self._conn.compute.keypairs()]

    @translate_errors
    def keypair_import(self, *, name: str, public_key: str) -> dto.KeyPair:
        return keypair_dto(self._conn.compute.create_keypair(name=name, public_key=public_key))

    @translate_errors
    def keypair_delete(self, *, name: str) -> None:
        self._conn.compute.delete_keypair(name, ignore_missing=False)


def _unknown_inputs(exc: Exception, *, image_id: str, network_id: str, group_id: str | None) -> dict[str, str]:
    """What of a create Nova refused because the project has no such thing, as {field: sentence}.
    The image: one the project cannot see ("Can not find requested image", or "Image ... could
    not be found.") or an id that is none ("Invalid imageRef provided."). The network ("Network
    <id> could not be found.") and the security group, sent by id ("Unable to find security_group
    with name or id '<id>'", Neutron's answer passed on; "Security group <id> not found."): told
    by the id sent, so a stale one the caller kept is told apart from any other refusal."""
    if not isinstance(exc, sdk.CLIENT_ERRORS):
        return {}
    translated = sdk.translate(exc)
    if not isinstance(translated, BadInput):
        return {}
    said = translated.message.lower()
    not_found = any(words in said for words in ("not be found", "not find", "not found", "unable to find"))
    unknown = {}
    if "imageref" in said or ("image" in said and not_found):
        unknown["image_id"] = f"There is no image {image_id} on this cloud."
    if not_found and "network" in said and network_id.lower() in said:
        unknown["network_id"] = f"There is no network {network_id} in this project."
    if not_found and group_id and "security" in said and group_id.lower() in said:
        unknown["firewall_id"] = f"There is no firewall {group_id} in this project."
    return unknown
