"""OpenStack's SDK objects (and Blazar's JSON) as `apps.clouds.dto` dataclasses:
nothing the SDK returns leaves the OpenStack driver unconverted."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from .. import dto
from ..errors import NotFound

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


def parse_when(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = parse_datetime(str(value).replace(" ", "T"))
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def blazar_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime(_BLAZAR_TIME)


def image_dto(image: Any) -> dto.Image:
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


def size_dto(flavor: Any) -> dto.Size:
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


def network_dto(network: Any, cidr: str) -> dto.Network:
    return dto.Network(
        id=network.id, name=network.name or network.id, external=bool(network.is_router_external), cidr=cidr or ""
    )


def quota_dto(resource: str, label: str, limit: Any, used: Any, units: str = "") -> dto.Quota:
    value = int(limit) if limit is not None else None
    return dto.Quota(
        resource=resource,
        label=label,
        limit=None if value is None or value < 0 else value,
        used=int(used or 0),
        units=units,
    )


def machine_dto(server: Any, size_id: str) -> dto.Machine:
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
        created_at=parse_when(server.created_at),
        key_name=server.key_name or None,
        fault=str(fault.get("message", "")) if status == S.ERROR else "",
        metadata=dict(server.metadata or {}),
        extra={"power_state": server.power_state, "task_state": server.task_state, "vm_state": server.vm_state},
    )


def firewall_rule_dto(rule: Any) -> dto.FirewallRule:
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


def keypair_dto(key: Any) -> dto.KeyPair:
    return dto.KeyPair(name=key.name, fingerprint=key.fingerprint or "", public_key=key.public_key or "")


def ip_dto(ip: Any, devices: Mapping[str, str]) -> dto.ExternalIp:
    return dto.ExternalIp(
        id=ip.id,
        address=ip.floating_ip_address,
        machine_id=devices.get(ip.port_id) if ip.port_id else None,
        extra={"port_id": ip.port_id, "status": ip.status},
    )


def volume_dto(volume: Any) -> dto.Volume:
    attachment = (volume.attachments or [{}])[0] if volume.attachments else {}
    return dto.Volume(
        id=volume.id,
        name=volume.name or "",
        size_gb=int(volume.size or 0),
        status=_VOLUME_STATUS.get(str(volume.status), dto.VolumeStatus.UNKNOWN),
        machine_id=attachment.get("server_id"),
        device=attachment.get("device"),
    )


def cluster_dto(cluster: Any) -> dto.KubernetesCluster:
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


def lease_dto(lease: Mapping[str, Any]) -> dto.Lease:
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
    start = parse_when(lease.get("start_date"))
    end = parse_when(lease.get("end_date"))
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


def kubeconfig_text(*, name: str, server: str, ca: str, cert: str, key: str) -> str:
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
