"""Test settings: the base settings (so DATABASE_URL/REDIS_URL pick the
database and channel layer), with fast password hashing."""

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Task enqueued in a test runs only when a worker (a real subprocess) takes it.
TASKS = {"default": {**TASKS["default"], "BACKEND": "django_tasks_db.DatabaseBackend"}}  # noqa: F405
# Job kinds and sync hooks the tests use (worker subprocesses get the same list).
ATRIUM_JOB_MODULES = ["tests.jobkinds"]
# Jobs waiting for the local cloud look often (its delays are set per cloud in tests).
ATRIUM_MACHINE_POLL_INTERVAL = 0.05
ATRIUM_WAIT_FIRST_LOOK = 0.05
ATRIUM_WATCH_INTERVAL = 0.1
# The cache is this process's own (cleared before each test in tests/conftest.py),
# so throttle counts never leak between tests or runs sharing a Redis.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
