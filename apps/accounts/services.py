"""Writes for people: federated sign-in, API tokens, SSH keys."""

import base64
import hashlib
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_ssh_public_key
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.errors import ApplicationError
from apps.tenancies.models import Membership

from .models import ApiToken, GroupMapping, SshPublicKey, User


class LoginRefused(PermissionDenied):
    """The identity provider vouched for the person, but Atrium will not let
    them in (no group with a tenancy, wrong issuer...). The message says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- Federated sign-in ------------------------------------------------------------

ROLE_RANK = {Membership.Role.MEMBER: 1, Membership.Role.MANAGER: 2}


def _groups_from(claims: dict[str, Any]) -> list[str]:
    value = claims.get(settings.ATRIUM_OIDC_GROUPS_CLAIM, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Iterable):
        return []
    return sorted({str(group) for group in value})


def _free_username(wanted: str, *, sub: str) -> str:
    base = "".join(ch for ch in wanted if ch.isalnum() or ch in "._-@+")[:120] or "user"
    if not User.objects.filter(username=base).exists():
        return base
    suffix = hashlib.sha256(sub.encode()).hexdigest()[:8]
    return f"{base[:110]}-{suffix}"


def _desired_roles(groups: list[str]) -> dict[int, str]:
    desired: dict[int, str] = {}
    for mapping in GroupMapping.objects.filter(group__in=groups):
        current = desired.get(mapping.tenancy_id)
        if current is None or ROLE_RANK[Membership.Role(mapping.role)] > ROLE_RANK[Membership.Role(current)]:
            desired[mapping.tenancy_id] = mapping.role
    return desired


def _memberships_sync(*, user: User, desired: dict[int, str]) -> None:
    """Group-sourced memberships follow the token; manual ones are left alone."""
    existing = {m.tenancy_id: m for m in Membership.objects.filter(user=user)}
    for tenancy_id, membership in existing.items():
        if membership.source == Membership.Source.GROUPS and tenancy_id not in desired:
            membership.delete()
    for tenancy_id, role in desired.items():
        current = existing.get(tenancy_id)
        if current is None:
            Membership.objects.create(user=user, tenancy_id=tenancy_id, role=role, source=Membership.Source.GROUPS)
        elif current.source == Membership.Source.GROUPS and current.role != role:
            current.role = role
            current.save(update_fields=["role"])


def user_sync_from_oidc(*, issuer: str, claims: dict[str, Any]) -> User:
    """Find or create the user the claims describe, keyed by (issuer, sub), bring
    name and e-mail up to date and make memberships match the groups claim.

    Refuses (LoginRefused, nothing created) a person none of whose groups has a
    tenancy in Atrium and who is not an operator.
    """
    sub = str(claims.get("sub") or "")
    if not sub:
        raise LoginRefused("The identity provider sent no subject (sub) for this account.")
    groups = _groups_from(claims)
    operator_groups = set(settings.ATRIUM_OIDC_OPERATOR_GROUPS)
    is_operator = bool(operator_groups & set(groups))
    desired = _desired_roles(groups)
    if not desired and not is_operator:
        user = User.objects.filter(oidc_issuer=issuer, oidc_subject=sub).first()
        if user is not None:
            with transaction.atomic():
                _memberships_sync(user=user, desired={})  # access ends with the groups
        shown = ", ".join(groups) if groups else "none"
        raise LoginRefused(
            "Your account is not in any group that has a tenancy in Atrium "
            f"(your groups: {shown}). Ask your group's manager to be added, then sign in again."
        )

    with transaction.atomic():
        return _user_update_from_claims(
            issuer=issuer,
            sub=sub,
            claims=claims,
            desired=desired,
            is_operator=is_operator,
            operator_groups=operator_groups,
        )


def _user_update_from_claims(
    *,
    issuer: str,
    sub: str,
    claims: dict[str, Any],
    desired: dict[int, str],
    is_operator: bool,
    operator_groups: set[str],
) -> User:
    user = User.objects.select_for_update().filter(oidc_issuer=issuer, oidc_subject=sub).first()
    fields = {
        "email": str(claims.get("email") or ""),
        "first_name": str(claims.get("given_name") or "")[:150],
        "last_name": str(claims.get("family_name") or "")[:150],
    }
    if not fields["first_name"] and not fields["last_name"] and claims.get("name"):
        first, _, last = str(claims["name"]).partition(" ")
        fields.update(first_name=first[:150], last_name=last[:150])
    if user is None:
        wanted = str(claims.get("preferred_username") or fields["email"].split("@")[0] or sub)
        user = User(username=_free_username(wanted, sub=sub), oidc_issuer=issuer, oidc_subject=sub)
        user.set_unusable_password()
    for name, value in fields.items():
        setattr(user, name, value)
    if operator_groups:
        user.is_staff = user.is_superuser = is_operator
    user.save()
    _memberships_sync(user=user, desired=desired)
    return user


# --- API tokens -----------------------------------------------------------------


def api_token_create(*, user: User, name: str, expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """A new token; returns it and the full key, which is never shown again."""
    name = name.strip()
    if not name:
        raise ApplicationError("Give the token a name.", fields={"name": ["This field may not be blank."]})
    if ApiToken.objects.filter(user=user, name=name).exists():
        raise ApplicationError(
            "You already have a token with that name.", fields={"name": ["You already have a token with that name."]}
        )
    expiry = timedelta(days=expires_in_days) if expires_in_days else None
    token, key = ApiToken.objects.create(user=user, expiry=expiry, name=name, prefix=settings.ATRIUM_TOKEN_PREFIX)
    return token, key


def api_token_revoke(*, token: ApiToken) -> None:
    token.delete()


def api_token_touch(*, token: ApiToken) -> None:
    """Record use, at most once a minute (no write on every request)."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)


# --- SSH keys -------------------------------------------------------------------

SSH_MIN_RSA_BITS = 2048


def ssh_key_parse(public_key: str) -> tuple[str, str, int, str]:
    """(normalised key, type, bits, SHA256 fingerprint) of an OpenSSH public key
    line; ApplicationError with a field message when it is not a usable key."""
    if "PRIVATE KEY" in public_key:
        raise ApplicationError(
            "That is a private key.",
            fields={"public_key": ["This is a private key: never share it. Paste the public one (the .pub file)."]},
        )
    text = " ".join(public_key.strip().split())
    parts = text.split(" ")
    if len(parts) < 2:
        raise ApplicationError(
            "Not an SSH public key.",
            fields={"public_key": ["Paste one line like 'ssh-ed25519 AAAA… you@laptop' (your .pub file)."]},
        )
    if parts[0] == "ssh-dss":
        raise ApplicationError(
            "DSA keys are not accepted.", fields={"public_key": ["DSA keys are insecure; use ed25519 or RSA."]}
        )
    try:
        key = load_ssh_public_key(f"{parts[0]} {parts[1]}".encode())
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ApplicationError(
            "Not an SSH public key.",
            fields={"public_key": [f"This is not a valid OpenSSH public key ({exc})."]},
        ) from None
    if isinstance(key, rsa.RSAPublicKey):
        bits = key.key_size
        if bits < SSH_MIN_RSA_BITS:
            raise ApplicationError(
                "RSA key too short.",
                fields={"public_key": [f"RSA keys need at least {SSH_MIN_RSA_BITS} bits; this one has {bits}."]},
            )
    elif isinstance(key, ec.EllipticCurvePublicKey):
        bits = key.curve.key_size
    elif isinstance(key, ed25519.Ed25519PublicKey):
        bits = 256
    else:  # pragma: no cover - cryptography parses only the types above
        raise ApplicationError("Unsupported key type.", fields={"public_key": ["Unsupported key type."]})
    digest = hashlib.sha256(base64.b64decode(parts[1])).digest()
    fingerprint = "SHA256:" + base64.b64encode(digest).decode().rstrip("=")
    return text, parts[0], bits, fingerprint


def ssh_key_add(*, user: User, name: str, public_key: str) -> SshPublicKey:
    text, key_type, bits, fingerprint = ssh_key_parse(public_key)
    name = name.strip() or (text.split(" ", 2)[2] if text.count(" ") >= 2 else key_type)
    name = name[:100]
    if SshPublicKey.objects.filter(user=user, fingerprint=fingerprint).exists():
        raise ApplicationError(
            "You have added this key already.", fields={"public_key": ["You have this key already."]}
        )
    if SshPublicKey.objects.filter(user=user, name=name).exists():
        raise ApplicationError("Name taken.", fields={"name": ["You already have a key with that name."]})
    try:
        with transaction.atomic():
            return SshPublicKey.objects.create(
                user=user, name=name, public_key=text, key_type=key_type, bits=bits, fingerprint=fingerprint
            )
    except IntegrityError:  # a concurrent add of the same key or name
        raise ApplicationError("You have added this key already.") from None


def ssh_key_delete(*, key: SshPublicKey) -> None:
    key.delete()
