"""Filters of the platform types list (the API's; the page is one tenancy's already)."""

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from drf_spectacular.utils import extend_schema_field

from apps.tenancies.models import Membership

from .models import PlatformType

#: The largest id a database row can have (a 64-bit signed integer).
ID_MAX = 2**63 - 1
OFFERED_TO = "Only the types this tenancy may use (a tenancy not yours: none)."


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": ID_MAX, "description": OFFERED_TO})
class TenancyFilter(django_filters.NumberFilter):  # type: ignore[misc]  # django-filter ships no types
    """A tenancy's id: a whole number within what a database can hold (else a 400 saying so)."""

    field_class = forms.IntegerField

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, min_value=1, max_value=ID_MAX, **kwargs)


class PlatformTypeFilterSet(django_filters.FilterSet):  # type: ignore[misc]  # django-filter ships no types
    tenancy = TenancyFilter(method="offered_to", label=OFFERED_TO)

    class Meta:
        model = PlatformType
        fields = ["tenancy"]

    def offered_to(self, queryset: QuerySet[PlatformType], name: str, tenancy_id: int) -> QuerySet[PlatformType]:
        if not Membership.objects.filter(user=self.request.user, tenancy_id=tenancy_id).exists():
            return queryset.none()
        return queryset.filter(Q(available_to_all=True) | Q(tenancies__pk=tenancy_id)).distinct()
