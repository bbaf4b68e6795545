"""Limits on guessing credentials.

- Password sign-in (the one password form, `/accounts/login/`): django-axes
  counts failed attempts per account and per client address and, past
  ATRIUM_LOGIN_FAILURE_LIMIT, refuses further attempts for
  ATRIUM_LOGIN_LOCKOUT_SECONDS with the sign-in page, 429 and Retry-After
  (`lockout_response`). OIDC sign-ins carry no password: the provider limits
  those, axes leaves them alone (`password_attempts_only`).
- API credentials (`Authorization: Token …` or `Bearer …`): a DRF throttle
  counts the ones that fail per client address; past ATRIUM_API_BAD_TOKEN_RATE
  every token from that address is refused with 429 and Retry-After, in the
  API's error format, until the window has room again (`bad_credentials_guard`).

Both count by the connection's address (`client_address`): behind a proxy,
uvicorn's `--forwarded-allow-ips` makes that the address the proxy saw.
"""

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger(__name__)


def client_address(request: HttpRequest | Request) -> str | None:
    """The address guessing is counted by: the connection's, never a header the
    client could set (X-Forwarded-For is the proxy's to turn into this). None
    for a request that came from no connection (`Client.force_login`'s)."""
    address = request.META.get("REMOTE_ADDR")
    return str(address) if address else None


# --- Password sign-in (django-axes) ------------------------------------------------


class SignInLimitBackend(AxesStandaloneBackend):  # type: ignore[misc]  # axes ships no types
    """django-axes' check, first among the authentication backends. An
    authentication without a request (code, `Client.login` in tests) comes
    from no client and no address: there is nothing to count, so it is let
    through to the other backends instead of being an error."""

    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> None:
        if request is not None:
            super().authenticate(request, *args, **kwargs)


def password_attempts_only(request: HttpRequest, credentials: dict[str, Any] | None) -> bool:
    """AXES_WHITELIST_CALLABLE: True (axes neither counts nor refuses) for an
    authentication without a password, i.e. an OIDC sign-in."""
    return not (credentials or {}).get("password")


def _lockout_seconds_left(request: HttpRequest, credentials: dict[str, Any] | None) -> int:
    cool_off = int(settings.AXES_COOLOFF_TIME.total_seconds())
    if not credentials:
        credentials = {"username": request.POST.get("username")}
    latest = None
    for attempts in AxesDatabaseHandler().get_user_attempts(request, credentials):
        last = attempts.aggregate(last=Max("attempt_time"))["last"]
        if last is not None and (latest is None or last > latest):
            latest = last
    if latest is None:
        return cool_off
    elapsed: float = (timezone.now() - latest).total_seconds()
    return max(1, math.ceil(cool_off - elapsed))


def _in_words(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"


def lockout_response(
    request: HttpRequest,
    original_response: object = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the sign-in page again, saying why and until when; 429 with Retry-After.
    (Under ASGI axes passes the credentials as the second argument and none as
    the third: the username then comes from the form.)"""
    from .forms import LoginForm
    from .views import LoginView

    seconds = _lockout_seconds_left(request, credentials)
    view = LoginView()
    view.setup(request)
    username = request.POST.get("username", "")
    context = view.get_context_data(
        form=LoginForm(request, initial={"username": username}),  # type: ignore[no-untyped-call]
        lockout_message=(
            "Too many failed sign-in attempts for this account or from your address. "
            f"Try again in {_in_words(seconds)}."
        ),
    )
    response = render(request, view.template_name, context, status=429)
    response["Retry-After"] = str(seconds)
    return response


# --- API credentials (a DRF throttle) ------------------------------------------------


class BadCredentialsThrottle(SimpleRateThrottle):
    """Failed API credentials per client address, at ATRIUM_API_BAD_TOKEN_RATE
    (DRF's rate syntax, e.g. `20/min`). Unlike DRF's usual throttles it counts
    only failures, so it is checked before and recorded after authenticating."""

    scope = "bad_credentials"
    num_requests: int  # from the rate (SimpleRateThrottle.__init__)
    duration: int

    def get_rate(self) -> str | None:
        rate: str | None = settings.ATRIUM_API_BAD_TOKEN_RATE or None
        return rate

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_address(request) or "unknown"}

    def _load(self, request: Request) -> None:
        self.key = self.get_cache_key(request, None)
        self.now = self.timer()
        history: list[float] = self.cache.get(self.key, [])
        self.history = [moment for moment in history if moment > self.now - self.duration]

    def blocked(self, request: Request) -> bool:
        if self.rate is None:
            return False
        self._load(request)
        return len(self.history) >= self.num_requests

    def record_failure(self, request: Request) -> None:
        if self.rate is None:
            return
        self._load(request)
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.duration)


@contextmanager
def bad_credentials_guard(request: Request) -> Iterator[None]:
    """Around checking a request's API credentials: refuse at once (429) when
    its address has failed too often; count a failure (AuthenticationFailed)."""
    throttle: BadCredentialsThrottle | None = BadCredentialsThrottle()
    try:
        blocked = throttle is not None and throttle.blocked(request)
    except Exception:
        logger.warning("The bad-credentials throttle cannot reach its cache", exc_info=True)
        blocked, throttle = False, None
    if blocked and throttle is not None:
        raise exceptions.Throttled(
            wait=throttle.wait(), detail="Too many requests with bad API credentials from your address."
        )
    try:
        yield
    except exceptions.AuthenticationFailed:
        if throttle is not None:
            try:
                throttle.record_failure(request)
            except Exception:
                logger.warning("The bad-credentials throttle cannot reach its cache", exc_info=True)
        raise
