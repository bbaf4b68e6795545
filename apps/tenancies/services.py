"""Writes for clouds, tenancies and memberships."""

from django.db import transaction

from apps.accounts.models import User

from .models import Cloud, Membership, Tenancy


@transaction.atomic
def tenancy_create(*, name: str, cloud: Cloud, project_id: str = "", description: str = "") -> Tenancy:
    tenancy = Tenancy(name=name, cloud=cloud, project_id=project_id, description=description)
    tenancy.full_clean()
    tenancy.save()
    return tenancy


@transaction.atomic
def membership_set(*, tenancy: Tenancy, user: User, role: str = Membership.Role.MEMBER) -> Membership:
    """Make `user` a member of `tenancy` with `role` (adding or updating)."""
    membership, _ = Membership.objects.update_or_create(tenancy=tenancy, user=user, defaults={"role": role})
    return membership
