"""The local cloud's rows as `apps.clouds.dto` dataclasses (and the texts it makes up:
console logs, kubeconfigs)."""

from __future__ import annotations

import hashlib

import yaml
from django.utils import timezone

from .. import dto
from ..models import (
    LocalCluster,
    LocalExternalIp,
    LocalFirewallRule,
    LocalImage,
    LocalLease,
    LocalMachine,
    LocalNetwork,
    LocalSize,
    LocalVolume,
)

S = dto.MachineStatus
C = dto.ClusterStatus


def lease_status(lease: LocalLease) -> dto.LeaseStatus:
    now = timezone.now()
    if now < lease.start:
        return dto.LeaseStatus.PENDING
    if now < lease.end:
        return dto.LeaseStatus.ACTIVE
    return dto.LeaseStatus.TERMINATED


# Rows to DTOs ------------------------------------------------------------------------------


def image_dto(image: LocalImage) -> dto.Image:
    return dto.Image(
        id=image.uid,
        name=image.name,
        status=dto.ImageStatus.ACTIVE,
        os_distro=image.os_distro,
        os_version=image.os_version,
        min_disk_gb=image.min_disk_gb,
        min_ram_mb=image.min_ram_mb,
        size_bytes=image.size_bytes,
        extra={"visibility": "private" if image.project_id else "public"},
    )


def size_dto(size: LocalSize) -> dto.Size:
    return dto.Size(
        id=size.uid,
        name=size.name,
        cpus=size.cpus,
        ram_mb=size.ram_mb,
        disk_gb=size.disk_gb,
        gpus=size.gpus,
        description=size.description,
    )


def network_dto(network: LocalNetwork) -> dto.Network:
    return dto.Network(id=network.uid, name=network.name, external=network.external, cidr=network.cidr)


def machine_dto(machine: LocalMachine) -> dto.Machine:
    ips = list(machine.external_ips.all())
    return dto.Machine(
        id=machine.uid,
        name=machine.name,
        status=S(machine.status),
        image_id=machine.image.uid,
        size_id=machine.size.uid,
        internal_ip=machine.internal_ip,
        external_ip=ips[0].address if ips else None,
        created_at=machine.created_at,
        key_name=machine.key_name or None,
        fault=machine.fault if machine.status == S.ERROR else "",
        lease_id=machine.lease.uid if machine.lease else None,
        metadata=dict(machine.metadata),
        extra={"host": machine.host.name if machine.host else None},
    )


def firewall_rule_dto(rule: LocalFirewallRule) -> dto.FirewallRule:
    return dto.FirewallRule(
        id=rule.uid,
        protocol=dto.FirewallProtocol(rule.protocol),
        port_min=rule.port_min,
        port_max=rule.port_max,
        remote_cidr=rule.remote_cidr,
    )


def ip_dto(ip: LocalExternalIp) -> dto.ExternalIp:
    return dto.ExternalIp(id=ip.uid, address=ip.address, machine_id=ip.machine.uid if ip.machine else None)


def volume_dto(volume: LocalVolume) -> dto.Volume:
    return dto.Volume(
        id=volume.uid,
        name=volume.name,
        size_gb=volume.size_gb,
        status=dto.VolumeStatus.IN_USE if volume.machine else dto.VolumeStatus.AVAILABLE,
        machine_id=volume.machine.uid if volume.machine else None,
        device=volume.device or None,
    )


def cluster_dto(cluster: LocalCluster) -> dto.KubernetesCluster:
    return dto.KubernetesCluster(
        id=cluster.uid,
        name=cluster.name,
        status=C(cluster.status),
        template_id=cluster.template.uid,
        kubernetes_version=cluster.kubernetes_version,
        node_groups=(
            dto.NodeGroup(
                name="default-master", role="master", size_id=cluster.master_size.uid, count=cluster.master_count
            ),
            dto.NodeGroup(
                name="default-worker", role="worker", size_id=cluster.worker_size.uid, count=cluster.worker_count
            ),
        ),
        api_address=f"https://{cluster.api_address}:6443",
        status_reason=cluster.status_reason,
    )


def lease_dto(lease: LocalLease) -> dto.Lease:
    return dto.Lease(
        id=lease.uid,
        name=lease.name,
        status=lease_status(lease),
        start=lease.start,
        end=lease.end,
        reservations=tuple(
            dto.Reservation(
                id=r.uid,
                kind=dto.ReservationKind(r.kind),
                count=r.count,
                size_id=r.size.uid if r.size else None,
            )
            for r in lease.reservations.all()
        ),
    )


def kubeconfig_text(cluster: LocalCluster) -> str:
    name = f"{cluster.name}-{cluster.uid[:8]}"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": f"https://{cluster.api_address}:6443"}}],
        "users": [{"name": f"{name}-admin", "user": {"token": hashlib.sha256(cluster.uid.encode()).hexdigest()}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-admin"}}],
        "current-context": name,
    }
    header = "# Simulated cluster from Atrium's local cloud: nothing answers at this address.\n"
    return header + yaml.safe_dump(config, sort_keys=False)


def console_log_text(machine: LocalMachine) -> str:
    """A plausible serial console: kernel and cloud-init lines, then what happened since."""
    started = machine.created_at or timezone.now()
    stamp = started.strftime("%a, %d %b %Y %H:%M:%S +0000")
    lines = [
        f"[    0.000000] Linux version 6.8.0 ({machine.image.os_distro or 'linux'}) #1 SMP",
        f"[    0.000000] Command line: root=LABEL=cloudimg-rootfs console=ttyS0 ({machine.image.name})",
        f"[    0.412000] Memory: {machine.size.ram_mb * 1024}K available, {machine.size.cpus} CPUs",
    ]
    if machine.status == S.BUILD:
        lines.append("[    1.204000] Booting...")
        return "\n".join(lines)
    if machine.status == S.ERROR:
        lines.append(f"[    1.204000] Build failed: {machine.fault}")
        return "\n".join(lines)
    lines += [
        f"Cloud-init v. 24.1 running 'init' at {stamp}.",
        f"ci-info: | eth0 | True | {machine.internal_ip} | 255.255.255.0 | global |",
        f"Cloud-init v. 24.1 finished at {stamp}. Datasource DataSourceOpenStack.",
        f"{machine.name} login: ",
    ]
    for when, what in machine.events:
        lines.append(f"[{when}] machine {what}")
    return "\n".join(lines)
