"""Websockets are accepted only from Atrium's own pages.

A browser sends the session cookie with a websocket handshake whatever page
opened it, and the same-origin policy does not guard websockets: the Origin
header is what tells a page of ours from one of another site, or of another
service on the same host (`http://127.0.0.1:9999` is not the origin of a portal
on `http://127.0.0.1:8000`). So the rule is Django's CSRF origin rule, whole
origins (scheme, host and port):

- the site's own origin: the scheme of the request (`wss` → `https`, or
  `X-Forwarded-Proto` when `SECURE_PROXY_SSL_HEADER` says to trust it, as for
  HTTP requests) and its `Host`, which must be in `ALLOWED_HOSTS` (a page of a
  rebound DNS name has our address but not our host name);
- or one of `CSRF_TRUSTED_ORIGINS` (`https://*.example.org` for subdomains).

Everything else, and a handshake without Origin or Host, is refused.
"""

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin1").strip()
    return ""


def _scheme(scope: Scope) -> str:
    """`https` or `http`, decided as Django decides `request.scheme`."""
    if settings.SECURE_PROXY_SSL_HEADER:
        meta_name, secure_value = settings.SECURE_PROXY_SSL_HEADER
        forwarded = _header(scope, meta_name.removeprefix("HTTP_").lower().replace("_", "-").encode())
        if forwarded:
            return "https" if forwarded.split(",", 1)[0].strip() == secure_value else "http"
    return "https" if scope.get("scheme") in ("wss", "https") else "http"


def _trusted(origin: str) -> bool:
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        trusted = trusted.lower()
        if "*" not in trusted:
            if origin == trusted:
                return True
            continue
        pattern, given = urlsplit(trusted), urlsplit(origin)
        if given.scheme == pattern.scheme and is_same_domain(given.netloc, pattern.netloc.lstrip("*")):
            return True
    return False


def origin_allowed(scope: Scope) -> bool:
    origin, host = _header(scope, b"origin").lower(), _header(scope, b"host").lower()
    domain, _port = split_domain_port(host)
    if not origin or not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    return origin == f"{_scheme(scope)}://{host}" or _trusted(origin)


class SameOriginValidator:
    """ASGI middleware for websockets: refuses a handshake `origin_allowed` refuses."""

    def __init__(self, application: ASGIApp):
        self.application = application

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if origin_allowed(scope):
            await self.application(scope, receive, send)
        else:
            await WebsocketDenier()(scope, receive, send)
