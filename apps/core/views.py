from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .api import error_body
from .health import run_checks


def home(request: HttpRequest) -> HttpResponse:
    """Signed in: your tenancies. Signed out: the sign-in page, which says what Atrium is."""
    if not request.user.is_authenticated:
        return redirect(settings.LOGIN_URL)
    return render(request, "core/home.html")  # the tenancies come from the switcher's context


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database, channel layer and a worker are fine, else 503.

    Load balancers (anyone) get the bare status; operators (staff, signed in)
    also get each check's detail, which names the database, the channel layer
    and how many workers run.
    """
    checks = run_checks()
    failing = [check.name for check in checks if not check.ok]
    body: dict[str, object] = {"status": "unavailable" if failing else "ok"}
    if request.user.is_staff:
        body["failing"] = failing
        body["checks"] = {check.name: {"ok": check.ok, "detail": check.detail, "ms": check.ms} for check in checks}
    return JsonResponse(body, status=503 if failing else 200)


# --- Error pages: HTML in the portal's style, JSON under /api/ -----------------

_MESSAGES = {
    400: "The request could not be understood.",
    403: "You do not have permission to do that.",
    404: "There is nothing here.",
    413: "The request is too large.",
    500: "Something went wrong on our side. The operators have been told.",
}


def _error(request: HttpRequest, status: int, *, safe: bool = False) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(status, _MESSAGES[status]), status=status)
    if getattr(request, "htmx", False) and not safe:
        from .middleware import error_partial

        return error_partial(request, _MESSAGES[status], status)
    template = loader.select_template([f"errors/{status}.html", "errors/400.html"])
    # The 500 page renders without the request: context processors might be
    # what failed (the database, for one).
    context = {"status": status, "message": _MESSAGES[status], "debug": settings.DEBUG}
    return HttpResponse(template.render(context, None if safe else request), status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if isinstance(exception, RequestDataTooBig):  # over DATA_UPLOAD_MAX_MEMORY_SIZE: say so
        return _error(request, 413)
    return _error(request, 400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 404)


def server_error(request: HttpRequest) -> HttpResponse:
    return _error(request, 500, safe=True)
