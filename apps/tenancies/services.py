"""Writes for clouds, tenancies and memberships."""

from typing import Any

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


@transaction.atomic
def cloud_register(
    *,
    name: str,
    clouds_yaml: str,
    entry: str,
    with_credentials: bool = True,
    federated: str = "",
    protocol: str = "openid",
) -> tuple[Cloud, bool]:
    """Register (or update) the OpenStack cloud `name` from the `entry` of the clouds.yaml
    at path `clouds_yaml`: its Keystone URL and options, and the entry's credentials
    (encrypted) unless told not to. With `federated` (Keystone's identity provider name)
    the cloud acts as each user and keeps no credentials. BadInput if the entry is unusable.
    The management command and the admin both register through here."""
    from apps.clouds.openstack.sdk import clouds_yaml_entry

    auth_url, options, credentials = clouds_yaml_entry(clouds_yaml, entry)
    if federated:
        options.update(auth="federated", identity_provider=federated, protocol=protocol or "openid")
    defaults: dict[str, Any] = {"driver": Cloud.Driver.OPENSTACK, "endpoint": auth_url, "options": options}
    if federated:
        defaults["credentials"] = {}  # acts as each user: no long-lived credential at all
    elif with_credentials:
        defaults["credentials"] = credentials
    return Cloud.objects.update_or_create(name=name, defaults=defaults)
