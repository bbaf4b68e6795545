"""Reads of platform types, scoped to the tenancies a person is in: a type is seen only
where an operator made it available (to every tenancy, or to that one), and only while
its platform.yaml is valid. Every read first reloads the types whose files changed
(`platform_types_current`)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from apps.accounts.models import User
from apps.core.errors import NotFound
from apps.tenancies.models import Tenancy
from apps.tenancies.selectors import tenancy_get_for_user, tenancy_list_for_user

from .loader import platform_types_current
from .models import PlatformType


def _offered(tenancies: QuerySet[Tenancy]) -> QuerySet[PlatformType]:
    platform_types_current()
    return (
        PlatformType.objects.filter(valid=True)
        .filter(Q(available_to_all=True) | Q(tenancies__in=tenancies))
        .distinct()
        .order_by("label", "name")
    )


def platform_type_list(*, user: User, tenancy_id: int | None = None) -> QuerySet[PlatformType]:
    """The valid types offered to any of the user's tenancies (or to the one given, which
    must be theirs: NotFound otherwise)."""
    if tenancy_id is not None:
        tenancy_get_for_user(user=user, tenancy_id=tenancy_id)
        return _offered(tenancy_list_for_user(user=user).filter(pk=tenancy_id))
    return _offered(tenancy_list_for_user(user=user))


def platform_type_get(*, user: User, name: str, tenancy_id: int | None = None) -> PlatformType:
    found = platform_type_list(user=user, tenancy_id=tenancy_id).filter(name=name).first()
    if found is None:
        raise NotFound("No such platform type.")
    return found


def platform_types_for_tenancy(*, user: User, tenancy_id: int) -> tuple[Tenancy, QuerySet[PlatformType]]:
    """The tenancy (NotFound unless the user's) and the types it may use."""
    tenancy = tenancy_get_for_user(user=user, tenancy_id=tenancy_id)
    return tenancy, platform_type_list(user=user, tenancy_id=tenancy_id)
