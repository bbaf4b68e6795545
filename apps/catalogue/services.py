"""Writes of the catalogue: read a tenancy's images, sizes and capabilities from its cloud and keep them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import TypeVar

from django.utils import timezone

from apps.accounts.models import User
from apps.clouds import dto
from apps.clouds.errors import CloudError
from apps.clouds.registry import driver_for_tenancy
from apps.tenancies.models import Tenancy

from .capabilities import capabilities_to_dict
from .models import Catalogue
from .quotas import quotas_snapshot

T = TypeVar("T")
logger = logging.getLogger(__name__)


def catalogue_refresh(*, tenancy: Tenancy, user: User | None = None) -> Catalogue:
    """Read the tenancy's images, sizes, capabilities, network and quotas from its cloud and
    keep them (`user`: who Atrium acts for, on clouds with per-user federation)."""
    driver = driver_for_tenancy(tenancy, user=user)
    images = [
        {
            "id": i.id,
            "name": i.name,
            "os_distro": i.os_distro,
            "os_version": i.os_version,
            "min_disk_gb": i.min_disk_gb,
            "min_ram_mb": i.min_ram_mb,
        }
        for i in driver.images()
        if i.status == dto.ImageStatus.ACTIVE
    ]
    sizes = [
        {
            "id": s.id,
            "name": s.name,
            "cpus": s.cpus,
            "ram_mb": s.ram_mb,
            "disk_gb": s.disk_gb,
            "gpus": s.gpus,
            "description": s.description,
        }
        for s in driver.sizes()
    ]
    own = [n for n in _or_none(driver.networks) or [] if not n.external and n.cidr]
    catalogue, _ = Catalogue.objects.update_or_create(
        tenancy=tenancy,
        defaults={
            "images": sorted(images, key=lambda i: str(i["name"]).lower()),
            "sizes": sizes,
            "capabilities_data": capabilities_to_dict(driver.capabilities()),
            "network": network_entry(own[0] if own else None),
            "quotas": quotas_snapshot(tenancy, _or_none(driver.quotas) or []),
            "refreshed_at": timezone.now(),
        },
    )
    return catalogue


def _or_none(read: Callable[[], list[T]]) -> list[T] | None:
    """What `read` gives, or None when the cloud will not say (logged): the catalogue is still
    kept. (No quotas known: requests check none, and the cloud refuses what is over when the job
    runs. No network known: the create job finds it.)"""
    try:
        return read()
    except CloudError as exc:
        logger.warning("Catalogue refresh: %s failed: %s", getattr(read, "__name__", read), exc.message)
        return None


def network_entry(network: dto.Network | None) -> dict[str, str]:
    """How the catalogue keeps the project's network (empty: none yet; a create job makes it)."""
    return {} if network is None else {"id": network.id, "name": network.name, "cidr": network.cidr}


def catalogue_network_set(*, tenancy: Tenancy, network: dto.Network) -> None:
    """Keep the project's network a job found or made, so the next create need not look for it."""
    Catalogue.objects.filter(tenancy=tenancy).update(network=network_entry(network))


def catalogue_firewall_set(*, tenancy: Tenancy, firewall: dto.SharedFirewall) -> None:
    """Keep the project's shared firewall a job found or made, so creates start machines in it
    without looking for it."""
    rules = [{**asdict(rule), "protocol": rule.protocol.value} for rule in firewall.rules]
    Catalogue.objects.filter(tenancy=tenancy).update(firewall={"id": firewall.id, "rules": rules})
