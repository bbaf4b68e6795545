"""API authentication by personal token (`Authorization: Token <key>`)."""

from typing import Any

from knox.auth import TokenAuthentication

from .services import api_token_touch


class ApiTokenAuthentication(TokenAuthentication):  # type: ignore[misc]  # knox ships no types
    """django-rest-knox's hashed-token check, recording when a token was last used."""

    def validate_user(self, auth_token: Any) -> tuple[Any, Any]:
        user, token = super().validate_user(auth_token)
        api_token_touch(token=token)
        return user, token
