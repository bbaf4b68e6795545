"""How the API's authentication methods appear in the OpenAPI schema."""

from typing import Any, ClassVar

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class _Scheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """An authentication class (`target_class`) as the schema's security scheme `name`: `definition`.
    (No `target_class` here, so drf-spectacular matches nothing with this base itself.)"""

    definition: ClassVar[dict[str, str]]

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return self.definition


class ApiTokenScheme(_Scheme):  # type: ignore[no-untyped-call]
    target_class = "apps.accounts.auth.ApiTokenAuthentication"
    name = "apiToken"
    definition = {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "A personal API token: `Token atrium_…` (create one on the API tokens page or at tokens/).",
    }


class OidcBearerScheme(_Scheme):  # type: ignore[no-untyped-call]
    target_class = "apps.accounts.oidc.AtriumOIDCBearerAuthentication"
    name = "oidcAccessToken"
    definition = {
        "type": "http",
        "scheme": "bearer",
        "description": "An access token from the institution's OpenID Connect provider.",
    }
