"""Filters of the platform types list (the API's; the page is one tenancy's already)."""

import django_filters
from django.db.models import Q, QuerySet

from apps.tenancies.models import Membership

from .models import PlatformType


class PlatformTypeFilterSet(django_filters.FilterSet):  # type: ignore[misc]  # django-filter ships no types
    tenancy = django_filters.NumberFilter(
        method="offered_to", label="Only the types this tenancy may use (a tenancy not yours: none)."
    )

    class Meta:
        model = PlatformType
        fields = ["tenancy"]

    def offered_to(self, queryset: QuerySet[PlatformType], name: str, value: float) -> QuerySet[PlatformType]:
        tenancy_id = int(value)
        if not Membership.objects.filter(user=self.request.user, tenancy_id=tenancy_id).exists():
            return queryset.none()
        return queryset.filter(Q(available_to_all=True) | Q(tenancies__pk=tenancy_id)).distinct()
