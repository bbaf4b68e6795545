"""Hosts and what is left of them, now and over a lease's window: where the local
cloud places machines and what its leases may take."""

from __future__ import annotations

from datetime import datetime

from .. import dto
from ..errors import InvalidOperation
from ..models import LocalAllocation, LocalHost, LocalLease, LocalReservation, LocalSize

S = dto.MachineStatus


def need(size: LocalSize, count: int = 1) -> dto.Capacity:
    return dto.Capacity(cpus=size.cpus * count, ram_mb=size.ram_mb * count, disk_gb=size.disk_gb * count)


def fits(free: dto.Capacity, need: dto.Capacity) -> bool:
    return free.cpus >= need.cpus and free.ram_mb >= need.ram_mb and free.disk_gb >= need.disk_gb


def minus(a: dto.Capacity, b: dto.Capacity) -> dto.Capacity:
    return dto.Capacity(cpus=a.cpus - b.cpus, ram_mb=a.ram_mb - b.ram_mb, disk_gb=a.disk_gb - b.disk_gb)


def host_total(host: LocalHost) -> dto.Capacity:
    return dto.Capacity(cpus=host.cpus, ram_mb=host.ram_mb, disk_gb=host.disk_gb)


def host_free_now(host: LocalHost) -> dto.Capacity:
    """What is left on a host now: its total minus the machines placed on it (ERROR ones hold nothing)."""
    free = host_total(host)
    for machine in host.machines.exclude(status=S.ERROR).exclude(settles_to=S.ERROR).select_related("size"):
        free = minus(free, need(machine.size))
    return free


def allocation_need(allocation: LocalAllocation) -> dto.Capacity:
    if allocation.reservation.kind == LocalReservation.Kind.HOST:
        return host_total(allocation.host)
    assert allocation.reservation.size is not None  # noqa: S101 - instance reservations always have a size
    return need(allocation.reservation.size, allocation.instances)


def host_free(
    host: LocalHost, start: datetime, end: datetime, *, exclude: LocalLease | None = None
) -> tuple[bool, dto.Capacity]:
    """Whether another lease holds the whole host during [start, end), and what is left of it otherwise."""
    overlapping = LocalAllocation.objects.filter(
        host=host, reservation__lease__start__lt=end, reservation__lease__end__gt=start
    ).select_related("reservation__size", "host")
    if exclude is not None:
        overlapping = overlapping.exclude(reservation__lease=exclude)
    free = host_total(host)
    for allocation in overlapping:
        if allocation.reservation.kind == LocalReservation.Kind.HOST:
            return True, dto.Capacity(cpus=0, ram_mb=0, disk_gb=0)
        free = minus(free, allocation_need(allocation))
    return False, free


def allocate(reservation: LocalReservation) -> None:
    """Pick hosts from the reservable pool for the reservation, or raise InvalidOperation."""
    lease = reservation.lease
    hosts = list(LocalHost.objects.filter(cloud=lease.cloud, reservable=True).order_by("name"))
    window = f"between {lease.start:%Y-%m-%d %H:%M} and {lease.end:%Y-%m-%d %H:%M} UTC"
    if reservation.kind == LocalReservation.Kind.HOST:
        free_hosts = []
        for host in hosts:
            whole, free = host_free(host, lease.start, lease.end)
            if not whole and free == host_total(host):
                free_hosts.append(host)
        if len(free_hosts) < reservation.count:
            raise InvalidOperation(
                f"Not enough free hosts {window}: {reservation.count} wanted, {len(free_hosts)} free."
            )
        for host in free_hosts[: reservation.count]:
            LocalAllocation.objects.create(reservation=reservation, host=host)
        return
    size = reservation.size
    assert size is not None  # noqa: S101 - checked by the caller
    left = reservation.count
    for host in hosts:
        whole, free = host_free(host, lease.start, lease.end)
        if whole:
            continue
        fit = min(
            free.cpus // max(size.cpus, 1), free.ram_mb // max(size.ram_mb, 1), free.disk_gb // max(size.disk_gb, 1)
        )
        take = min(fit, left)
        if take > 0:
            LocalAllocation.objects.create(reservation=reservation, host=host, instances=take)
            left -= take
        if left == 0:
            return
    raise InvalidOperation(
        f"Not enough free capacity {window}: room for {reservation.count - left} of the "
        f"{reservation.count} {size.name} machines wanted."
    )
