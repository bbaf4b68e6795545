"""The machines tests' local cloud (seeded like the demo) and Physics tenancy."""

from tests.unit.machines.conftest import catalogue, cloud, physics, small, ubuntu

__all__ = ["catalogue", "cloud", "physics", "small", "ubuntu"]
