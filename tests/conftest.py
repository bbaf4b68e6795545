"""Shared fixtures. Real parts only: the database pytest-django sets up
(PostgreSQL or SQLite from DATABASE_URL), the channel layer from REDIS_URL,
and real subprocesses for the worker and the web server (tests/servers.py)."""

import pytest
from django.core.cache import cache
from django.test import Client

from apps.tenancies.models import Membership
from tests.factories import MembershipFactory, TenancyFactory, UserFactory


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache (throttle counts, OIDC bearer answers).
    Sign-in lockouts (django-axes) are database rows: rolled back with each test."""
    cache.clear()


@pytest.fixture
def physics(db):
    return TenancyFactory(name="Physics", description="Particle physics")


@pytest.fixture
def biology(db):
    return TenancyFactory(name="Biology", description="Structural biology")


@pytest.fixture
def physicist(physics):
    user = UserFactory(username="physicist", first_name="Lise", last_name="Meitner")
    MembershipFactory(user=user, tenancy=physics, role=Membership.Role.MEMBER)
    return user


@pytest.fixture
def biologist(biology):
    user = UserFactory(username="biologist", first_name="Rosalind", last_name="Franklin")
    MembershipFactory(user=user, tenancy=biology, role=Membership.Role.MANAGER)
    return user


@pytest.fixture
def physicist_client(physicist) -> Client:
    client = Client()
    client.force_login(physicist)
    return client
