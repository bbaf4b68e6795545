"""API plumbing shared by every app: the one error format, the API root and the
router (how ids are read from URLs). How bodies, pages and ordering are read:
apps.core.rest.

Every error under /api/ is JSON of one shape:

    {"error": {"status": 400, "code": "invalid", "message": "...", "fields": {"name": ["..."]}}}
"""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, routers, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from .errors import ApplicationError

_DEFAULT_CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "throttled",
    500: "server_error",
    503: "unavailable",
}


def error_body(status_code: int, message: str, *, code: str | None = None, fields: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": status_code,
        "code": code or _DEFAULT_CODES.get(status_code, "error"),
        "message": message,
    }
    if fields:
        body["fields"] = fields
    return {"error": body}


def _flatten(detail: Any) -> Any:
    """DRF ErrorDetail trees to plain lists of strings."""
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every API error in one shape."""
    if isinstance(exc, ApplicationError):
        return Response(
            error_body(exc.status_code, exc.message, code=exc.code, fields=exc.fields or None),
            status=exc.status_code,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: Django's 500 handler answers (JSON under /api/)

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]

    if isinstance(exc, exceptions.ValidationError):
        detail = _flatten(exc.detail)
        if isinstance(detail, list):
            detail = {"non_field_errors": detail}
        message = "Some fields are not valid."
        non_field = detail.get("non_field_errors") if isinstance(detail, dict) else None
        if non_field and len(detail) == 1:
            message = " ".join(non_field)
        body = error_body(exc.status_code, message, fields=detail)
    else:
        # DRF's own code says most ("not_authenticated" is a 403 too, with session auth).
        code = getattr(exc.detail, "code", None) or exc.default_code
        body = error_body(exc.status_code, str(exc.detail), code=str(code))
    return Response(body, status=exc.status_code, headers=headers)


@csrf_exempt  # a POST or DELETE to an unknown path is a 404 too, not the CSRF failure page
def api_not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    """Unknown paths under /api/v1/ (an id that is not a whole number included) answer a JSON 404."""
    return JsonResponse(error_body(404, f"No API endpoint at {request.path}."), status=404)


class Router(routers.SimpleRouter):
    """Every app's router: path converters, and ids are whole numbers (`<int:pk>`), so a
    detail URL with anything else is the unknown-path 404 and no view sees a bad id. A
    viewset whose key is not a number says so with `lookup_value_converter`."""

    def __init__(self) -> None:
        super().__init__(use_regex_path=False)
        self._default_value_pattern = "int"


_root_serializer = inline_serializer(
    name="ApiRoot",
    fields={
        "version": serializers.CharField(),
        "links": serializers.DictField(child=serializers.URLField()),
    },
)


class ApiRootView(APIView):
    """The entry point: where each collection lives. Open to everyone."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: _root_serializer}, operation_id="api_root")
    def get(self, request: Request) -> Response:
        def link(name: str) -> str:
            return reverse(name, request=request)

        return Response(
            {
                "version": "v1",
                "links": {
                    "me": link("api:me"),
                    "tenancies": link("api:tenancy-list"),
                    "platform-types": link("api:platform-type-list"),
                    "schema": link("api:schema"),
                    "docs": link("api:docs"),
                },
            },
            status=status.HTTP_200_OK,
        )
