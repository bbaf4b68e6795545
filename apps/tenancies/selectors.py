"""Reads of tenancies, always scoped to what the user may see.

A tenancy the user is not a member of does not exist for them: callers get
NotFound (404), never a 403. Every other app's selectors start from
`tenancy_get_for_user`.
"""

from django.contrib.auth.models import AnonymousUser
from django.db.models import OuterRef, QuerySet, Subquery

from apps.accounts.models import User
from apps.core.errors import NotFound

from .models import Membership, Tenancy


def tenancy_list_for_user(*, user: User | AnonymousUser) -> QuerySet[Tenancy]:
    """The tenancies the user is a member of, each annotated with `role`."""
    if not user.is_authenticated:
        return Tenancy.objects.none()
    role = Membership.objects.filter(tenancy=OuterRef("pk"), user=user).values("role")[:1]
    return (
        Tenancy.objects.filter(memberships__user=user)
        .select_related("cloud")
        .annotate(role=Subquery(role))
        .order_by("name")
    )


def tenancy_get_for_user(*, user: User | AnonymousUser, tenancy_id: int) -> Tenancy:
    try:
        return tenancy_list_for_user(user=user).get(pk=tenancy_id)
    except Tenancy.DoesNotExist:
        raise NotFound("No such tenancy.") from None


def membership_list(*, tenancy: Tenancy) -> QuerySet[Membership]:
    """Members of a tenancy (the caller has already checked access to it)."""
    return tenancy.memberships.select_related("user").order_by("-role", "user__username")
