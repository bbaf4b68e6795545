"""Every model under apps/ has a factory in tests/factories.py, and each factory makes a
saved row that passes the model's own validation (fields, choices, constraints)."""

import inspect
from typing import Any

import factory
import pytest
from django.apps import apps
from django.db import models

from tests import factories


def app_models() -> list[type[models.Model]]:
    return sorted((m for m in apps.get_models() if m.__module__.startswith("apps.")), key=lambda m: m._meta.label)


def model_factories() -> dict[type[models.Model], Any]:
    found: list[Any] = [
        f for _, f in inspect.getmembers(factories, inspect.isclass) if issubclass(f, factory.django.DjangoModelFactory)
    ]
    return {f._meta.model: f for f in found if f._meta.model is not None}


FACTORIES = model_factories()


def test_every_model_has_a_factory():
    missing = [m._meta.label for m in app_models() if m not in FACTORIES]
    assert missing == [], "Add a factory for these models to tests/factories.py"


@pytest.mark.django_db
@pytest.mark.parametrize("model", app_models(), ids=lambda m: m._meta.label)
def test_each_factory_makes_a_valid_saved_row(model):
    row = FACTORIES[model]()
    assert model._default_manager.filter(pk=row.pk).exists()
    row.full_clean()
    # A second one does not collide with the first (CloudFactory gives the one shared cloud).
    again = FACTORIES[model]()
    again.full_clean()
    assert again.pk != row.pk or model is factories.CloudFactory._meta.model
