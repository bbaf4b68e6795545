"""The machines list's filters: `?status=&q=&external=&created_by=` (the UI can use the same)."""

import django_filters
from django.db.models import QuerySet

from ..models import Machine
from ..selectors import machine_search


class MachineFilterSet(django_filters.FilterSet):  # type: ignore[misc]  # django-filter ships no types
    status = django_filters.ChoiceFilter(choices=Machine.STATUS_CHOICES, empty_label="Any status")
    q = django_filters.CharFilter(method="search", label="Search name, image, size or address")
    # A choice, not a BooleanFilter: that one ignores what it cannot read ("maybe") instead of refusing it.
    external = django_filters.ChoiceFilter(
        choices=[("true", "Made outside Atrium"), ("false", "Made through Atrium")],
        method="made_outside",
        empty_label="Anywhere",
        label="Found on the cloud by a sync (made outside Atrium)",
    )
    created_by = django_filters.CharFilter(field_name="created_by__username", label="Created by (user name)")

    class Meta:
        model = Machine
        fields = ["status", "q", "external", "created_by"]

    def made_outside(self, machines: QuerySet[Machine], name: str, value: str) -> QuerySet[Machine]:
        return machines.filter(external=value == "true")

    def search(self, machines: QuerySet[Machine], name: str, value: str) -> QuerySet[Machine]:
        return machine_search(machines, value)
