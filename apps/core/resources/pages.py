"""What a resource's HTML pages share: a tenancy's list page."""

from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apps.tenancies.models import Tenancy

PAGE_SIZE = 50


def list_page(
    request: HttpRequest,
    template: str,
    tenancy: Tenancy,
    rows: QuerySet[Any],
    name: str,
    context: dict[str, Any],
    status: int = 200,
) -> HttpResponse:
    """`template` with one page of a tenancy's `rows` (as `name`), `page`, and what the page adds
    (`context`). New rows appear live (apps.jobs.consumers) on the first page only."""
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    listed = {"tenancy": tenancy, name: page.object_list, "page": page, "query": "", "live_new": page.number == 1}
    return render(request, template, {**listed, **context}, status=status)
