"""Writes for people: federated sign-in, the OIDC tokens kept for per-user
federation, API tokens, SSH keys."""

import base64
import hashlib
import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import requests
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_ssh_public_key
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.errors import ApplicationError, Forbidden
from apps.core.names import name_clean, name_problem
from apps.tenancies.models import Membership

from .models import ApiToken, GroupMapping, OidcToken, SshPublicKey, User

logger = logging.getLogger(__name__)


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
        user = _user_from_claims(issuer=issuer, sub=sub, claims=claims)
        if operator_groups:
            user.is_staff = user.is_superuser = is_operator
        user.save()
        _memberships_sync(user=user, desired=desired)
    return user


def _user_from_claims(*, issuer: str, sub: str, claims: dict[str, Any]) -> User:
    """The user (issuer, sub) names, locked, or a new one (not saved yet), with the
    name and e-mail the claims give."""
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
    return user


# --- OIDC tokens kept for per-user federation ---------------------------------------
#
# Clouds set up for per-user federation (apps.clouds.openstack) exchange the
# user's access token for a Keystone token. Jobs run later in a worker, so the
# token from the latest sign-in is kept (encrypted) with its expiry, and renewed
# with the refresh token when the provider gave one. Nothing here logs a token.

#: An access token handed to a cloud must stay valid at least this long.
ACCESS_TOKEN_MARGIN = timedelta(seconds=60)


class OidcTokenRefreshError(Exception):
    """The provider could not be reached to renew a token (try again later)."""


def oidc_token_store(
    *,
    user: User,
    access_token: str,
    expires_in: float | None,
    refresh_token: str | None = None,
    source: str = OidcToken.Source.SIGN_IN,
) -> OidcToken | None:
    """Keep the provider's tokens from a sign-in (or a refresh). `expires_in` is
    the token response's, in seconds; without it, the token's own `exp` claim if
    it is a JWT, else ATRIUM_OIDC_BEARER_CACHE_SECONDS. A refresh token not sent
    again keeps the one stored. Returns None (and keeps nothing) for a
    non-federated user or an empty token."""
    if not access_token or not user.is_federated:
        return None
    expires_at = _token_expiry(access_token, expires_in)
    defaults: dict[str, Any] = {"access_token": access_token, "expires_at": expires_at, "source": source}
    if refresh_token:
        defaults["refresh_token"] = refresh_token
    token, _ = OidcToken.objects.update_or_create(user=user, defaults=defaults)
    return token


def oidc_bearer_token_store(*, user: User, access_token: str) -> OidcToken | None:
    """Keep an access token an API client presented (and the provider just
    accepted) when it lasts longer than the one kept: a script's token then
    serves the jobs it starts. The refresh token kept from a sign-in stays."""
    if not access_token or not user.is_federated:
        return None
    expires_at = _token_expiry(access_token, None)
    with transaction.atomic():
        current = OidcToken.objects.select_for_update().filter(user=user).first()
        if current is not None and (current.access_token == access_token or current.expires_at >= expires_at):
            return current
        return oidc_token_store(user=user, access_token=access_token, expires_in=None, source=OidcToken.Source.BEARER)


def oidc_access_token(*, user: User) -> str | None:
    """A usable access token of `user` for a cloud: the kept one while it has
    ACCESS_TOKEN_MARGIN left, else a fresh one from the refresh token. None when
    there is none (never signed in with OIDC, expired without a refresh token,
    refresh refused: they must sign in again). OidcTokenRefreshError when the
    provider cannot be reached to renew it."""
    token = OidcToken.objects.filter(user=user, user__is_active=True).first()
    if token is None:
        return None
    if token.expires_at - ACCESS_TOKEN_MARGIN > timezone.now():
        return str(token.access_token)
    if not token.refresh_token:
        return None
    with transaction.atomic():
        # One renewal at a time per user: providers that rotate refresh tokens
        # accept each one once, and several jobs may start together.
        token = OidcToken.objects.select_for_update().get(pk=token.pk)
        if token.expires_at - ACCESS_TOKEN_MARGIN > timezone.now():
            return str(token.access_token)  # another worker renewed it meanwhile
        if not token.refresh_token:
            return None
        answer = _refresh(token.refresh_token)
        if answer is None:
            token.refresh_token = None
            token.save(update_fields=["refresh_token", "updated_at"])
            return None
        token.access_token = str(answer["access_token"])
        token.expires_at = _token_expiry(token.access_token, answer.get("expires_in"))
        if answer.get("refresh_token"):
            token.refresh_token = str(answer["refresh_token"])
        token.source = OidcToken.Source.REFRESH
        token.save()
        logger.info("Renewed the OIDC access token of user %s", user.pk)
        return str(token.access_token)


def _refresh(refresh_token: str) -> dict[str, Any] | None:
    """The provider's answer to a refresh_token grant, or None when it refuses."""
    if not settings.OIDC_OP_TOKEN_ENDPOINT:
        return None
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": settings.OIDC_RP_CLIENT_ID}
    auth = None
    if settings.OIDC_TOKEN_USE_BASIC_AUTH:
        auth = (settings.OIDC_RP_CLIENT_ID, settings.OIDC_RP_CLIENT_SECRET)
    else:
        data["client_secret"] = settings.OIDC_RP_CLIENT_SECRET
    try:
        response = requests.post(
            settings.OIDC_OP_TOKEN_ENDPOINT,
            data=data,
            auth=auth,
            timeout=settings.OIDC_TIMEOUT,
            verify=getattr(settings, "OIDC_VERIFY_SSL", True),
        )
    except requests.RequestException as exc:
        raise OidcTokenRefreshError(f"The identity provider could not be reached: {type(exc).__name__}") from None
    if response.status_code >= 500:
        raise OidcTokenRefreshError(f"The identity provider answered {response.status_code}")
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if response.status_code != 200 or not isinstance(answer, dict) or not answer.get("access_token"):
        error = answer.get("error") if isinstance(answer, dict) else None
        logger.info("The identity provider refused to renew a token (HTTP %s, %s)", response.status_code, error)
        return None
    return answer


def _token_expiry(access_token: str, expires_in: Any) -> datetime:
    now = timezone.now()
    try:
        if expires_in is not None and float(expires_in) > 0:
            return now + timedelta(seconds=float(expires_in))
    except (TypeError, ValueError):
        pass
    try:
        # Only to know how long the provider meant it to last: the provider (or
        # the cloud) checks the signature; this reads the claim and trusts nothing.
        claims = jwt.decode(access_token, options={"verify_signature": False})
        exp = claims.get("exp")
        if isinstance(exp, int | float) and not isinstance(exp, bool):
            return datetime.fromtimestamp(exp, tz=UTC)
    except jwt.PyJWTError:
        pass
    return now + timedelta(seconds=settings.ATRIUM_OIDC_BEARER_CACHE_SECONDS)


# --- API tokens -----------------------------------------------------------------


# Tokens are managed by the person (a browser session, or the provider's
# Bearer token), not by a token: a leaked token can neither lock its owner out
# (revoke their other tokens) nor mint itself a successor that outlives its
# revocation. A token may revoke itself (a script retiring its credential).
TOKENS_NEED_A_PERSON = (
    "An API token can only revoke itself. Sign in to Atrium (the API tokens page) to create or revoke tokens."
)


def api_token_create(
    *, user: User, name: str, expires_in_days: int | None = None, using: ApiToken | None = None
) -> tuple[ApiToken, str]:
    """A new token; returns it and the full key, which is never shown again.
    `using`: the API token the request came with, if any (refused)."""
    if using is not None:
        raise Forbidden(TOKENS_NEED_A_PERSON)
    if not name.strip():
        raise ApplicationError("Give the token a name.", fields={"name": ["This field may not be blank."]})
    name = name_clean(name, max_length=100, what="token name")
    if ApiToken.objects.filter(user=user, name=name).exists():
        raise ApplicationError(
            "You already have a token with that name.", fields={"name": ["You already have a token with that name."]}
        )
    expiry = timedelta(days=expires_in_days) if expires_in_days else None
    token, key = ApiToken.objects.create(user=user, expiry=expiry, name=name, prefix=settings.ATRIUM_TOKEN_PREFIX)
    return token, key


def api_token_revoke(*, token: ApiToken, using: ApiToken | None = None) -> None:
    """`using`: the API token the request came with, if any: it may revoke only itself."""
    if using is not None and using.pk != token.pk:
        raise Forbidden(TOKENS_NEED_A_PERSON)
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
    if name.strip():
        name = name_clean(name, max_length=100, what="key name")
    else:  # the key's comment (checked like a name: it is shown as one), else its type
        comment = text.split(" ", 2)[2] if text.count(" ") >= 2 else ""
        name = comment[:100].strip() if comment.strip() and not name_problem(comment) else key_type
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
