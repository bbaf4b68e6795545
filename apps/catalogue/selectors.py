"""Reads of a tenancy's catalogue and capabilities. The caller has checked that the
user may see the tenancy (its own selectors do). They read the database, except when
the catalogue is missing (or, for `catalogue_get`, old): then the cloud, once."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.clouds import dto
from apps.clouds.errors import Unsupported
from apps.core.errors import Conflict
from apps.tenancies.models import Tenancy

from .capabilities import Capabilities, capabilities_from_dict
from .models import Catalogue

logger = logging.getLogger(__name__)


def catalogue_get(*, tenancy: Tenancy, user: User | None = None) -> Catalogue:
    """The tenancy's images, sizes and capabilities; read from the cloud when older
    than ATRIUM_CATALOGUE_MAX_AGE seconds (the sync refreshes it too)."""
    from .services import catalogue_refresh

    catalogue = Catalogue.objects.filter(tenancy=tenancy).first()
    max_age = timedelta(seconds=settings.ATRIUM_CATALOGUE_MAX_AGE)
    if catalogue is None or catalogue.refreshed_at < timezone.now() - max_age:
        catalogue = catalogue_refresh(tenancy=tenancy, user=user)
    return catalogue


def catalogue_cached(*, tenancy: Tenancy, user: User | None = None) -> Catalogue:
    """The tenancy's catalogue, network and quota limits for a request that must not wait for
    the cloud (a create): as last read, however old. When older than ATRIUM_CATALOGUE_MAX_AGE
    seconds it starts the tenancy's sync (which refreshes it) and answers with what it has.
    Only a tenancy whose cloud Atrium has never read (no catalogue, or none of its quotas
    yet) is read from the cloud, once, here."""
    from .services import catalogue_refresh

    catalogue = Catalogue.objects.filter(tenancy=tenancy).first()
    if catalogue is None or catalogue.quotas is None:
        return catalogue_refresh(tenancy=tenancy, user=user)
    if catalogue.refreshed_at < timezone.now() - timedelta(seconds=settings.ATRIUM_CATALOGUE_MAX_AGE):
        _sync_start(tenancy, user)
    return catalogue


def network_cached(*, tenancy: Tenancy) -> str | None:
    """The id of the project's network for new machines, as last read (None: not known yet)."""
    network = Catalogue.objects.filter(tenancy=tenancy).values_list("network", flat=True).first()
    return str(network["id"]) if network and network.get("id") else None


def firewall_shared_cached(*, tenancy: Tenancy) -> dto.SharedFirewall | None:
    """The project's shared firewall as a create job last found it (None: not known yet)."""
    found = Catalogue.objects.filter(tenancy=tenancy).values_list("firewall", flat=True).first()
    if not found or not found.get("id"):
        return None
    rules = tuple(
        dto.FirewallRule(**{**rule, "protocol": dto.FirewallProtocol(rule["protocol"])}) for rule in found["rules"]
    )
    return dto.SharedFirewall(id=found["id"], rules=rules)


def _sync_start(tenancy: Tenancy, user: User | None) -> None:
    """Start the tenancy's sync, unless one (or another job on the tenancy) is on its way."""
    from apps.jobs.services import tenancy_sync_start

    try:
        with transaction.atomic():  # a refused job leaves nothing behind, and the caller's transaction goes on
            tenancy_sync_start(tenancy=tenancy, requested_by=user)
    except Conflict:
        logger.debug("Catalogue of %s is old; its sync is on its way already.", tenancy)


def capabilities_cached(*, tenancy: Tenancy) -> Capabilities | None:
    """What the tenancy's cloud offers as last read (None if never read); no cloud call."""
    found = Catalogue.objects.filter(tenancy=tenancy).values_list("capabilities_data", flat=True).first()
    return None if found is None else capabilities_from_dict(found)


def capabilities_get(*, tenancy: Tenancy, user: User | None = None) -> Capabilities:
    """What the tenancy's cloud offers, for pages: as last read, however old (the sync keeps
    it fresh, and what a cloud offers seldom changes); read from the cloud only the first time."""
    cached = capabilities_cached(tenancy=tenancy)
    return cached if cached is not None else catalogue_get(tenancy=tenancy, user=user).capabilities


def capability_require(*, tenancy: Tenancy, flag: str, label: str, user: User | None = None) -> None:
    """Unsupported (400) unless the tenancy's cloud offers `flag` (a `Capabilities` field)."""
    if not getattr(capabilities_get(tenancy=tenancy, user=user), flag):
        raise Unsupported(f"{tenancy.cloud.name} does not offer {label}.")
