"""Platform types built from a spec checked as the loader checks it, and a tenancy whose
cached catalogue (no cloud behind it) the parameter checks read."""

from pathlib import Path
from typing import Any

import pytest

from apps.catalogue.capabilities import capabilities_to_dict
from apps.clouds.base import Capabilities
from apps.platforms.loader import spec_check
from tests.factories import CatalogueFactory, PlatformTypeFactory

SIZES = [
    {"id": "size-tiny", "name": "tiny", "cpus": 1, "ram_mb": 512, "disk_gb": 5},
    {"id": "size-small", "name": "small", "cpus": 2, "ram_mb": 4096, "disk_gb": 20},
    {"id": "size-large", "name": "large", "cpus": 8, "ram_mb": 32768, "disk_gb": 80},
]
IMAGES = [
    {"id": "img-debian", "name": "Debian 12", "os_distro": "debian", "min_disk_gb": 0, "min_ram_mb": 0},
    {"id": "img-rocky", "name": "Rocky 9", "os_distro": "rocky", "min_disk_gb": 0, "min_ram_mb": 0},
    {"id": "img-win", "name": "Windows Server", "os_distro": "windows", "min_disk_gb": 0, "min_ram_mb": 0},
]


def make_type(
    parameters: list[dict[str, Any]], services: list[dict[str, Any]] | None = None, name: str = "demo", **row: Any
) -> Any:
    """A PlatformType row of a spec the schema accepts (or the test fails here)."""
    spec = {
        "name": name,
        "label": "Demo",
        "description": "A demo.",
        "version": "1.0.0",
        "parameters": parameters,
        "services": services or [],
    }
    spec = spec_check(spec, Path(f"{name}/platform.yaml"), name)
    return PlatformTypeFactory(name=name, label="Demo", spec=spec, **row)


@pytest.fixture
def catalogue(physics):
    return CatalogueFactory(
        tenancy=physics,
        sizes=SIZES,
        images=IMAGES,
        quotas=[],
        capabilities_data=capabilities_to_dict(Capabilities(external_ips=True, volumes=True, firewall=True)),
    )
