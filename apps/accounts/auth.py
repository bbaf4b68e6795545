"""API authentication by personal token (`Authorization: Token <key>`), and
the one reading of the Authorization header that both token schemes use."""

import re
from typing import Any

from knox.auth import TokenAuthentication
from rest_framework import exceptions
from rest_framework.request import Request

from .services import api_token_touch
from .throttling import bad_credentials_guard

# RFC 7235's token68: what a Token or Bearer credential may be made of.
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def authorization_scheme(request: Request) -> str:
    """The Authorization header's scheme, lower-cased ("" without one)."""
    parts = _authorization(request).split(maxsplit=1)
    return parts[0].lower() if parts else ""


def authorization_credentials(request: Request, scheme: str) -> str:
    """The credentials of an `Authorization: <scheme> <credentials>` header
    whose scheme is `scheme`. Anything else in it (nothing, spaces, bytes that
    are not a token: servers hand headers over as latin-1, so a client can send
    any byte) is AuthenticationFailed, a 401: never an exception that becomes a 500."""
    parts = _authorization(request).split()
    if not parts or parts[0].lower() != scheme.lower():
        raise exceptions.AuthenticationFailed(f"Expected an `Authorization: {scheme} …` header.")
    if len(parts) != 2:
        raise exceptions.AuthenticationFailed(
            f"Invalid {scheme} header: send `Authorization: {scheme} <token>`, the token without spaces."
        )
    if not _TOKEN68.fullmatch(parts[1]):
        raise exceptions.AuthenticationFailed(f"Invalid {scheme} header: that is not a token.")
    return parts[1]


def _authorization(request: Request) -> str:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if isinstance(header, bytes):
        header = header.decode("latin-1")
    return str(header)


class ApiTokenAuthentication(TokenAuthentication):  # type: ignore[misc]  # knox ships no types
    """django-rest-knox's hashed-token check, recording when a token was last
    used; bad tokens are counted per address (throttling.bad_credentials_guard)."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        scheme = self.authenticate_header(request)
        if authorization_scheme(request) != scheme.lower():
            return None  # no token, or one for another scheme
        with bad_credentials_guard(request):
            key = authorization_credentials(request, scheme)
            user, token = self.authenticate_credentials(key.encode("ascii"))
            return user, token

    def validate_user(self, auth_token: Any) -> tuple[Any, Any]:
        user, token = super().validate_user(auth_token)
        api_token_touch(token=token)
        return user, token
