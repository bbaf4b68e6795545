"""Reads of a user's own things: always filtered by the user (another user's
token or key is NotFound)."""

from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework.request import Request

from apps.core.errors import NotFound

from .models import ApiToken, SshPublicKey, User


def signed_in_user(request: HttpRequest | Request) -> User:
    """The request's user, for views behind login_required / IsAuthenticated."""
    assert isinstance(request.user, User)  # noqa: S101 - the view's guard ran first
    return request.user


def api_token_list(*, user: User) -> QuerySet[ApiToken]:
    tokens: QuerySet[ApiToken] = ApiToken.objects.filter(user=user).order_by("-created")
    return tokens


def api_token_get(*, user: User, token_key: str) -> ApiToken:
    token = api_token_list(user=user).filter(token_key=token_key).first()
    if token is None:
        raise NotFound("No such token.")
    return token


def ssh_key_list(*, user: User) -> QuerySet[SshPublicKey]:
    return SshPublicKey.objects.filter(user=user).order_by("name")


def ssh_key_get(*, user: User, key_id: int) -> SshPublicKey:
    key = ssh_key_list(user=user).filter(pk=key_id).first()
    if key is None:
        raise NotFound("No such SSH key.")
    return key
