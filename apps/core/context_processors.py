from typing import Any

from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict[str, Any]:
    """Run-mode facts the layout needs (which logins to offer, demo banner)."""
    return {
        "ATRIUM_EMBEDDED": settings.ATRIUM_EMBEDDED,
        "ATRIUM_LOCAL_LOGIN": settings.ATRIUM_LOCAL_LOGIN,
        "ATRIUM_OIDC_ENABLED": settings.ATRIUM_OIDC_ENABLED,
        "ATRIUM_OIDC_PROVIDER_NAME": settings.ATRIUM_OIDC_PROVIDER_NAME,
    }
