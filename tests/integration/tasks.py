"""Tasks the integration tests enqueue; the worker subprocess imports this module."""

from django_tasks import task


@task()
def add(a: int, b: int) -> int:
    return a + b
