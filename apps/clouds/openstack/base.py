"""What every OpenStack family shares: the connection to the project, made from the
driver's `Target` (credentials, or per-user federation with the target's token source)."""

from __future__ import annotations

import functools
from typing import Any

from ..base import CloudDriver
from ..errors import Authentication, CloudError, InvalidOperation, NotFound
from ..target import Target
from . import sdk


class OpenStackBase(CloudDriver):
    """The connection and what it tells (the scoped project, the services in the catalogue)."""

    def __init__(self, *, target: Target):
        super().__init__(target=target)
        # Refuse at once, before any job stage starts, when there is no one to act as.
        self._access_token = self._user_access_token() if self.federated else None

    @property
    def federated(self) -> bool:
        """Whether this cloud acts as each user (per-user OIDC federation)."""
        return self.target.federated

    @property
    def _options(self) -> dict[str, Any]:
        return dict(self.target.options)

    def _sign_in_again(self, why: str) -> Authentication:
        return Authentication(f"Sign in again so Atrium can act for you on {self.target.cloud_name}: {why}")

    def _user_access_token(self) -> str:
        if self.target.token is None:
            raise self._sign_in_again(
                "this cloud runs everything as the person who asked, and no signed-in person asked for this."
            )
        return self.target.token()

    def _credentials(self) -> dict[str, Any]:
        if not self.federated:
            return dict(self.target.credentials)
        options = self._options
        if not options.get("identity_provider"):
            raise CloudError(
                f"{self.target.cloud_name} is set up for per-user federation without an identity provider: an "
                "operator must set the cloud's options identity_provider (and protocol) to Keystone's names for them."
            )
        return {
            "identity_provider": str(options["identity_provider"]),
            "protocol": str(options.get("protocol") or "openid"),
            "access_token": self._access_token,
        }

    @functools.cached_property
    def _conn(self) -> sdk.Connection:
        connection = sdk.connect(
            auth_url=self.target.endpoint,
            project_id=self.project_id,
            credentials=self._credentials(),
            options=self._options,
        )
        if self.federated:
            # Exchange the user's token now, so a refusal says what the user can do about it.
            try:
                sdk.authenticate(connection)
            except Authentication as exc:
                said = sdk.details(exc.__cause__)
                raise self._sign_in_again(
                    f"it did not accept your identity for project {self.project_id}" + (f" ({said})." if said else ".")
                ) from exc
            except NotFound as exc:
                raise CloudError(
                    f"{self.target.cloud_name}'s Keystone does not know the identity provider or protocol Atrium is "
                    f"set up with ({sdk.details(exc.__cause__)}); an operator must correct the cloud's options."
                ) from exc
        return connection

    @property
    def _application_credential(self) -> bool:
        credentials = self._credentials()
        return bool(credentials.get("application_credential_id") or credentials.get("application_credential_name"))

    @functools.cached_property
    def _project(self) -> str:
        """The project the token is scoped to (an application credential decides it)."""
        project = self._conn.current_project_id
        if not project:
            raise InvalidOperation("The cloud's credentials are not scoped to a project.")
        return str(project)

    @functools.cached_property
    def _services(self) -> set[str]:
        catalog = self._conn.config.get_service_catalog()
        return {str(entry.get("type")) for entry in (catalog.catalog if catalog else [])}
