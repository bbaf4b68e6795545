"""One FilterSet for the jobs list page and the API's `?state=&kind=`."""

import django_filters
from django import forms

from .models import Job
from .registry import kind_label, kind_names


def _kind_choices() -> list[tuple[str, str]]:
    return [(name, kind_label(name)) for name in kind_names()]


def _select() -> forms.Select:
    return forms.Select(attrs={"class": "form-select form-select-sm"})


class JobFilterSet(django_filters.FilterSet):  # type: ignore[misc]  # django-filter ships no types
    state = django_filters.ChoiceFilter(choices=Job.State.choices, empty_label="Any state", widget=_select())
    kind = django_filters.ChoiceFilter(choices=_kind_choices, empty_label="Any kind", widget=_select())

    class Meta:
        model = Job
        fields = ["state", "kind"]
