"""Application errors that reach a page's view boundary, in one place.

Services raise `ApplicationError`s (cloud errors included). The API renders
them as JSON (apps.core.api); for pages this middleware turns one a view did
not handle itself into what a person can act on, never a 500:

- NotFound: the 404 page;
- an htmx request: the error partial, shown as a toast (templates/_error.html);
- otherwise: the message on the page the person came from (or the home page).
"""

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme

from .errors import ApplicationError, NotFound


def same_site(request: HttpRequest, url: str, default: str) -> str:
    """`url` if it stays on this site, else `default` (for "back to where you were" redirects)."""
    if url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=False):
        return url
    return default


def error_partial(request: HttpRequest, message: str, status: int) -> HttpResponse:
    """The htmx error partial: a toast, whatever element the request targeted."""
    response = HttpResponse(render_to_string("_error.html", {"message": message}, request), status=status)
    response["HX-Retarget"] = "#toasts"
    response["HX-Reswap"] = "beforeend"
    return response


class ApplicationErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, ApplicationError) or request.path.startswith("/api/"):
            return None
        if isinstance(exception, NotFound):
            from .views import page_not_found

            return page_not_found(request, exception)
        if getattr(request, "htmx", False):
            return error_partial(request, exception.message, exception.status_code)
        messages.error(request, exception.message)
        return redirect(same_site(request, request.headers.get("referer", ""), "/"))
