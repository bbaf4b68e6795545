"""The machines list's API filters: the page's (apps.machines.filtersets), same names,
with `external` strict: the page's BooleanFilter reads "maybe" as no filter, an API
client should hear that it sent something unreadable (400)."""

import django_filters
from django.db.models import QuerySet

from ..filtersets import MachineFilterSet
from ..models import Machine


class MachineApiFilterSet(MachineFilterSet):
    external = django_filters.ChoiceFilter(
        choices=[("true", "Outside Atrium"), ("false", "Through Atrium")],
        method="made_outside",
        label="Made outside Atrium (found by a sync)",
    )

    def made_outside(self, machines: QuerySet[Machine], name: str, value: str) -> QuerySet[Machine]:
        return machines.filter(external=value == "true")
