"""Filters of the machine lists: the same names in the page and the API."""

from urllib.parse import urlencode

import django_filters
from django import forms
from django.db.models import QuerySet

from .models import Machine
from .selectors import machine_search


class MachineFilterSet(django_filters.FilterSet):  # type: ignore[misc]  # django-filter ships no types
    q = django_filters.CharFilter(
        method="search",
        label="Search",
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm", "placeholder": "Name, image, size, IP"}),
    )
    status = django_filters.ChoiceFilter(
        choices=Machine.STATUS_CHOICES,
        empty_label="Any status",
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    external = django_filters.BooleanFilter(
        label="Made outside Atrium",
        widget=forms.Select(
            choices=[("", "Anywhere"), ("false", "Through Atrium"), ("true", "Outside Atrium")],
            attrs={"class": "form-select form-select-sm"},
        ),
    )
    created_by = django_filters.CharFilter(
        field_name="created_by__username",
        label="Created by",
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm", "placeholder": "username"}),
    )

    class Meta:
        model = Machine
        fields = ["q", "status", "external", "created_by"]

    def search(self, queryset: QuerySet[Machine], name: str, value: str) -> QuerySet[Machine]:
        return machine_search(queryset, value)

    def is_filtered(self) -> bool:
        return any(self.form.data.get(name) for name in self.Meta.fields)

    def query_string(self) -> str:
        """The filters as a query string prefix for page links ("q=x&" or "")."""
        params = {name: self.form.data.get(name) for name in self.Meta.fields if self.form.data.get(name)}
        return urlencode(params) + "&" if params else ""
