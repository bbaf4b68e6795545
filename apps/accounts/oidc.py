"""OpenID Connect through mozilla-django-oidc, made strict.

On top of the library (authorization code flow with state, nonce and PKCE,
id_token signature checked against the provider's JWKS) this checks the
id_token's issuer and audience and that userinfo describes the same subject,
keys users by (issuer, sub), applies the groups claim at every sign-in, and
turns every failure into a message on the sign-in page instead of an error
page: the provider down, the login refused, a replayed or expired state, a
token that does not verify.

The provider's access token (with its expiry, and the refresh token when the
provider gives one) is kept, encrypted, for clouds that act as the user
(per-user federation, apps.clouds.openstack): from every sign-in, and from API
requests that bring a longer-lived bearer token (services.oidc_token_store).
"""

import hashlib
import logging
from typing import Any
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.contrib.drf import OIDCAuthentication
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView
from rest_framework import exceptions
from rest_framework.request import Request

from .auth import authorization_credentials, authorization_scheme
from .models import User
from .services import LoginRefused, oidc_bearer_token_store, oidc_token_store, user_sync_from_oidc
from .throttling import bad_credentials_guard

logger = logging.getLogger(__name__)


class AtriumOIDCBackend(OIDCAuthenticationBackend):  # type: ignore[misc]  # the library ships no types
    #: The code flow's token response (access, refresh, expires_in), for get_or_create_user.
    _token_response: dict[str, Any] | None = None

    def get_token(self, payload: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = super().get_token(payload)
        self._token_response = answer
        return answer

    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        payload: dict[str, Any] = super().verify_token(token, **kwargs)
        issuer = settings.OIDC_OP_ISSUER
        if issuer and payload.get("iss") != issuer:
            raise SuspiciousOperation(f"id_token issued by {payload.get('iss')!r}, expected {issuer!r}")
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("id_token was issued to another client")
        return payload

    def get_or_create_user(self, access_token: str, id_token: str | None, payload: dict[str, Any] | None) -> User:
        claims = self.get_userinfo(access_token, id_token, payload)
        if payload is not None and claims.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("userinfo describes another subject than the id_token")
        request = getattr(self, "request", None)
        try:
            user = user_sync_from_oidc(issuer=settings.OIDC_OP_ISSUER, claims=claims)
        except LoginRefused as refused:
            if request is not None:
                request.atrium_login_error = refused.message
            logger.info("Sign-in refused for sub=%s: %s", claims.get("sub"), refused.message)
            raise
        answer = self._token_response
        if answer is not None and answer.get("access_token") == access_token:
            # A browser sign-in (code flow): keep the tokens for jobs on federated clouds.
            oidc_token_store(
                user=user,
                access_token=access_token,
                expires_in=answer.get("expires_in"),
                refresh_token=answer.get("refresh_token"),
            )
        return user


class AtriumOIDCBearerAuthentication(OIDCAuthentication):  # type: ignore[misc]
    """`Authorization: Bearer <OIDC access token>` for the API, checked at the
    provider's userinfo endpoint; only when OIDC is configured."""

    def __init__(self) -> None:
        super().__init__(backend=AtriumOIDCBackend())

    def get_access_token(self, request: Request) -> str:
        return authorization_credentials(request, "Bearer")

    def authenticate(self, request: Request) -> tuple[User, str] | None:
        if not settings.ATRIUM_OIDC_ENABLED or authorization_scheme(request) != "bearer":
            return None
        with bad_credentials_guard(request):
            return self._authenticate(request, self.get_access_token(request))

    def _authenticate(self, request: Request, token: str) -> tuple[User, str] | None:
        # The provider's answer for a token is remembered briefly, so a script's
        # requests do not each cost a round trip to the provider.
        cache_key = "oidc-bearer:" + hashlib.sha256(token.encode()).hexdigest()
        user_id = cache.get(cache_key)
        if user_id is not None:
            user = User.objects.filter(pk=user_id, is_active=True).first()
            if user is not None:
                return user, token
        try:
            result: tuple[User, str] | None = super().authenticate(request)
        except LoginRefused as refused:
            raise exceptions.AuthenticationFailed(refused.message) from None
        except requests.RequestException:
            raise exceptions.AuthenticationFailed("The identity provider could not check this token.") from None
        if result is not None:
            cache.set(cache_key, result[0].pk, timeout=settings.ATRIUM_OIDC_BEARER_CACHE_SECONDS)
            # Jobs this request starts may act for the user on a federated cloud.
            oidc_bearer_token_store(user=result[0], access_token=token)
        return result


class CallbackView(OIDCAuthenticationCallbackView):  # type: ignore[misc]
    """The provider sends the browser back here; every failure ends on the
    sign-in page with a message that says what happened."""

    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            response: HttpResponse = super().get(request)
            return response
        except SuspiciousOperation as exc:
            logger.warning("OIDC callback refused: %s", exc)
            if "state" in str(exc):
                reason = "This sign-in link has already been used or has expired. Please sign in again."
            else:
                reason = "Your identity provider's answer could not be verified, so you were not signed in."
        except (requests.ConnectionError, requests.Timeout):
            logger.warning("OIDC provider not answering", exc_info=True)
            reason = "Your institution's sign-in service is not answering. Please try again in a few minutes."
        except requests.RequestException as exc:
            logger.warning("OIDC provider refused the code exchange: %s", exc)
            reason = "Your institution's sign-in service refused this sign-in. Please sign in again."
        return self._fail(reason)

    def login_failure(self) -> HttpResponse:
        request = self.request
        reason = getattr(request, "atrium_login_error", None)
        if reason is None and request.GET.get("error"):
            error = request.GET.get("error_description") or request.GET["error"]
            reason = f"Your institution's sign-in service did not sign you in: {error}."
        elif reason is None and request.GET.get("state"):
            reason = "This sign-in link has already been used or has expired. Please sign in again."
        return self._fail(reason or "You were not signed in. Please try again.")

    def _fail(self, reason: str) -> HttpResponse:
        messages.error(self.request, reason)
        return redirect(settings.LOGIN_URL)


def provider_logout_url(request: HttpRequest) -> str:
    """RP-initiated logout: where to send the browser so the provider ends its
    session too (OIDC_OP_LOGOUT_URL_METHOD). Local sessions just go home."""
    id_token = request.session.get("oidc_id_token")
    endpoint = settings.OIDC_OP_LOGOUT_ENDPOINT
    if not id_token or not endpoint:
        return str(reverse(settings.LOGOUT_REDIRECT_URL))
    params = {
        "id_token_hint": id_token,
        "client_id": settings.OIDC_RP_CLIENT_ID,
        "post_logout_redirect_uri": request.build_absolute_uri(reverse(settings.LOGIN_URL)),
    }
    return f"{endpoint}?{urlencode(params)}"


def logout_response(request: HttpRequest) -> HttpResponseRedirect:
    from django.contrib.auth import logout

    target = provider_logout_url(request)
    logout(request)
    return HttpResponseRedirect(target)
