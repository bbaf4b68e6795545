"""One confirmation page for every destructive action in the HTML UI.

A destructive view loads its object (404 for another tenancy's), describes what goes in a
`Confirmation` and hands over what to do: GET shows templates/core/confirm.html naming
what goes and what follows; POST does it. Buttons on other pages are links to the GET, so
nothing is deleted, released, detached, removed or revoked with one click. The API is
not touched by this: its clients ask for what they mean.

    @login_required
    @require_http_methods(["GET", "POST"])
    def volume_delete(request, tenancy_id, volume_id):
        volume = ...
        return confirm(request, Confirmation(title=..., button=..., back=...), lambda: do_it(volume))
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@dataclass(frozen=True)
class Confirmation:
    #: The question, naming the object: "Delete the volume data-1 (20 GB)?"
    title: str
    #: The submit button: "Delete data-1".
    button: str
    #: Where "Keep it" goes (the page the person came from).
    back: str
    #: What follows, one sentence each: what is lost, what is detached first, what stays.
    consequences: list[str] = field(default_factory=list)
    #: Why it cannot be done now (the button is then not offered; a POST is refused by the service).
    blocked: str = ""
    #: The tenancy the object is in (breadcrumbs and the title), if any.
    tenancy: Any = None
    #: The page's <title>; the question by default.
    page_title: str = ""
    #: A plain action (detach) rather than a loss: the button is not red.
    danger: bool = True


def confirm(request: HttpRequest, confirmation: Confirmation, perform: Callable[[], HttpResponse]) -> HttpResponse:
    """GET: the confirmation page; POST: `perform()` (its answer, usually a redirect with a message).
    The view restricts the methods (require_http_methods(["GET", "POST"]))."""
    if request.method == "POST":
        return perform()
    return render(request, "core/confirm.html", {"confirmation": confirmation, "tenancy": confirmation.tenancy})
