"""Reads shared by every resource's selectors."""

from typing import Any, TypeVar

from django.contrib.auth.models import AnonymousUser
from django.db.models import Model, QuerySet

from apps.accounts.models import User
from apps.core.errors import NotFound
from apps.tenancies.models import Tenancy
from apps.tenancies.selectors import tenancy_get_for_user

M = TypeVar("M", bound=Model)


def tenancy_rows(
    model: type[M], *, user: User | AnonymousUser, tenancy_id: int, related: tuple[str, ...] = ()
) -> tuple[Tenancy, QuerySet[M]]:
    """The tenancy (NotFound unless one of the user's) and its rows of `model`, with `related`."""
    tenancy = tenancy_get_for_user(user=user, tenancy_id=tenancy_id)
    return tenancy, model._default_manager.filter(tenancy=tenancy).select_related(*related)


def row_get(rows: QuerySet[Any], pk: int, not_found: str) -> Any:
    """The row `pk` of `rows` (a selector's queryset, scoped to the user's tenancy); NotFound (404)
    saying `not_found` otherwise, so another tenancy's row is as unknown as one that never was."""
    row = rows.filter(pk=pk).first()
    if row is None:
        raise NotFound(not_found)
    return row
