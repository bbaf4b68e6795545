"""The one root of Atrium's own errors.

Services raise these; the API exception handler (apps.core.api) and the UI
error pages render them the same way everywhere. Cloud driver errors (added
with apps/clouds) map onto the same codes.
"""

from typing import Any


class ApplicationError(Exception):
    """An error a user can act on: a message, an HTTP status and field details."""

    status_code = 400
    code = "bad_request"

    def __init__(
        self, message: str, *, fields: dict[str, list[str]] | None = None, extra: dict[str, Any] | None = None
    ):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.extra = extra or {}


class Conflict(ApplicationError):
    """The request is valid but not now: wrong state, over quota, target busy."""

    status_code = 409
    code = "conflict"


class NotFound(ApplicationError):
    """Missing, or belongs to a tenancy the user is not in (never 403)."""

    status_code = 404
    code = "not_found"


class Forbidden(ApplicationError):
    """The user may not do this here (their own object, but not this way)."""

    status_code = 403
    code = "permission_denied"
