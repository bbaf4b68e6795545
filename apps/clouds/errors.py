"""One hierarchy for everything a cloud can refuse or fail at.

Every driver raises only these (the OpenStack driver translates SDK errors in
one place, apps.clouds.openstack.sdk). They are `apps.core.errors`
ApplicationErrors, so the API's one exception handler renders them with their
HTTP status, and code that catches `apps.core.errors.NotFound`/`Conflict` also
catches the cloud's versions.

`retryable` is True only where trying the same call again later may succeed
(the cloud was unreachable or slow); the job runner retries exactly on it.
"""

from typing import Any, ClassVar

from apps.core import errors as core


class CloudError(core.ApplicationError):
    """The root: the cloud did not do what was asked."""

    status_code = 502
    code = "cloud_error"
    retryable: ClassVar[bool] = False
    default_message: ClassVar[str] = "The cloud could not complete the request."

    def __init__(
        self,
        message: str | None = None,
        *,
        fields: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(message or self.default_message, fields=fields, extra=extra)


class BadInput(CloudError):
    status_code = 400
    code = "bad_input"
    default_message = "The cloud refused the request as invalid."


class NotFound(CloudError, core.NotFound):
    status_code = 404
    code = "not_found"
    default_message = "The cloud has no such resource (it may have been deleted)."


class QuotaExceeded(CloudError, core.Conflict):
    status_code = 409
    code = "quota_exceeded"
    default_message = "This would go over your project's quota."


class InvalidOperation(CloudError, core.Conflict):
    status_code = 409
    code = "invalid_operation"
    default_message = "That cannot be done in the resource's current state."


class Unsupported(CloudError):
    status_code = 400
    code = "unsupported"
    default_message = "This cloud does not offer that."


class Authentication(CloudError):
    """The cloud refused Atrium's credentials for the project (an operator must fix them)."""

    status_code = 502
    code = "cloud_authentication"
    default_message = "The cloud did not accept the project's credentials; ask an operator to renew them."


class PermissionDenied(CloudError):
    status_code = 403
    code = "cloud_permission_denied"
    default_message = "The cloud does not allow your project to do that."


class Communication(CloudError):
    status_code = 502
    code = "cloud_unreachable"
    retryable = True
    default_message = "The cloud could not be reached; try again in a moment."


class Timeout(CloudError):
    status_code = 504
    code = "cloud_timeout"
    retryable = True
    default_message = "The cloud took too long to answer; try again in a moment."
