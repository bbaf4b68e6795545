"""How every API endpoint reads what a client sends, one way for all (the
REST_FRAMEWORK settings name these): JSON bodies of bounded depth, pages and
page sizes, and the order of a list. Whatever does not fit is a 400 naming the
field and what is allowed, never ignored and never a 500.

Apart from apps.core.api, which imports DRF's views: those read these settings
when they are defined.
"""

from collections.abc import Sequence
from typing import Any

import django_filters
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import exceptions, pagination, parsers, serializers
from rest_framework.filters import BaseFilterBackend
from rest_framework.request import Request


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with nesting bounded: the API's bodies are flat, and a deep one
    (`[[[[…` 1,000 levels in 2 KB) would otherwise end in a RecursionError (a 500)."""

    max_depth = 32

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        too_deep = exceptions.ParseError(f"JSON parse error - nested deeper than {self.max_depth} levels.")
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise too_deep from None
        stack = [(data, 1)]
        while stack:  # without recursion, as the point is not to recurse
            value, depth = stack.pop()
            if isinstance(value, dict | list):
                if depth > self.max_depth:
                    raise too_deep
                children = value.values() if isinstance(value, dict) else value
                stack.extend((child, depth + 1) for child in children)
        return data


PAGE_SIZE_MAX = 200


def whole_number(value: str, field: str, low: int, high: int | None = None) -> int:
    """A query parameter as a whole number from `low` (to `high`), or a 400 naming `field`.
    ASCII digits only (int() takes some others, not all: U+00B2 it refuses); more than 18
    of them count as 10**18, beyond any page or id (int() refuses over 4,300 digits)."""
    number = None
    if value.isascii() and value.isdigit():
        digits = value.lstrip("0") or "0"
        number = int(digits) if len(digits) <= 18 else 10**18
    if number is None or number < low or (high is not None and number > high):
        allowed = f"from {low} to {high}" if high is not None else f"from {low}"
        raise serializers.ValidationError({field: [f"A whole number {allowed}."]})
    return number


class Pagination(pagination.PageNumberPagination):
    """Every list's pages: `?page=` (from 1; past the last one is a 404) and `?page_size=`
    (1 to PAGE_SIZE_MAX, PAGE_SIZE when omitted). Anything else in either is a 400."""

    page_size_query_param = "page_size"
    max_page_size = PAGE_SIZE_MAX

    def get_page_size(self, request: Request) -> int:
        value = request.query_params.get(self.page_size_query_param)
        if value is None:
            return int(self.page_size or PAGE_SIZE_MAX)
        return whole_number(value, self.page_size_query_param, 1, PAGE_SIZE_MAX)

    def get_page_number(self, request: Request, paginator: Any) -> int:
        return whole_number(request.query_params.get(self.page_query_param, "1"), self.page_query_param, 1)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        page, size = super().get_schema_operation_parameters(view)
        page["schema"]["minimum"] = 1
        page["description"] = "A page number, from 1 (404 past the last page)."
        size["schema"].update(minimum=1, maximum=PAGE_SIZE_MAX)
        size["description"] = f"Results per page, 1 to {PAGE_SIZE_MAX}."
        return [page, size]


class Ordering(BaseFilterBackend):
    """`?ordering=` on every list: one of the view's `ordering_fields`, `-` first for
    descending. A list that has none has one order, and any `ordering` is a 400 that
    names what is allowed, never ignored."""

    param = "ordering"

    def allowed(self, view: Any) -> list[str]:
        fields: Sequence[str] = getattr(view, "ordering_fields", ())
        return [order for field in fields for order in (field, f"-{field}")]

    def filter_queryset(self, request: Request, queryset: Any, view: Any) -> Any:
        value = request.query_params.get(self.param)
        if value is None:
            return queryset
        allowed = self.allowed(view)
        if value not in allowed:
            message = f"One of {', '.join(allowed)}." if allowed else "This list has one order: leave ordering out."
            raise serializers.ValidationError({self.param: [message]})
        assert isinstance(queryset, QuerySet)  # noqa: S101 - only querysets have ordering_fields
        return queryset.order_by(value, "pk")

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        allowed = self.allowed(view)
        if not allowed:
            return []
        return [
            {
                "name": self.param,
                "required": False,
                "in": "query",
                "description": "The order of the list (`-` first: descending).",
                "schema": {"type": "string", "enum": allowed},
            }
        ]


class Filters(DjangoFilterBackend):  # type: ignore[misc]  # django-filter ships no types
    """django-filter's backend, strict where the schema is: a choice filter sent empty
    (`?state=`) names no choice, so it is a 400 naming the parameter rather than "any"
    (the page's forms, which send empty for "any", use the FilterSet directly)."""

    def get_filterset_kwargs(self, request: Request, queryset: Any, view: Any) -> dict[str, Any]:
        kwargs: dict[str, Any] = super().get_filterset_kwargs(request, queryset, view)
        filterset_class = self.get_filterset_class(view, queryset)
        choices = getattr(filterset_class, "base_filters", {})
        empty = [
            name
            for name, field in choices.items()
            if isinstance(field, django_filters.ChoiceFilter)
            and name in request.query_params
            and not any(request.query_params.getlist(name))
        ]
        if empty:
            message = ["Empty: give one of its values, or leave it out."]
            raise serializers.ValidationError(dict.fromkeys(empty, message))
        return kwargs
