"""A realistic local cloud for the embedded mode and the demo: hosts, images,
sizes, an external network, Kubernetes templates and project quotas.
Idempotent: running it again adds what is missing and changes nothing else."""

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import Model

from ..models import LocalClusterTemplate, LocalHost, LocalImage, LocalNetwork, LocalQuota, LocalSize

M = TypeVar("M", bound=Model)

GB = 1024**3

# name, cpus, ram MB, disk GB, gpus, description
SIZES = [
    ("small", 1, 2048, 20, 0, "1 CPU, 2 GB RAM: a login node or a small service"),
    ("medium", 2, 4096, 40, 0, "2 CPUs, 4 GB RAM: development and light analysis"),
    ("large", 4, 8192, 80, 0, "4 CPUs, 8 GB RAM: analysis and small simulations"),
    ("xlarge", 8, 16384, 160, 0, "8 CPUs, 16 GB RAM: parallel jobs"),
    ("highmem", 8, 65536, 160, 0, "8 CPUs, 64 GB RAM: memory-hungry work (assembly, big data frames)"),
    ("gpu", 8, 32768, 160, 1, "8 CPUs, 32 GB RAM, 1 GPU: machine learning, cryo-EM"),
]
# name, distro, version, min disk GB, min RAM MB, size GB
IMAGES = [
    ("Ubuntu 24.04 LTS", "ubuntu", "24.04", 10, 1024, 0.6),
    ("Ubuntu 22.04 LTS", "ubuntu", "22.04", 10, 1024, 0.7),
    ("Rocky Linux 9", "rocky", "9.5", 10, 1024, 0.9),
    ("Debian 12", "debian", "12", 10, 512, 0.4),
    ("Ubuntu 24.04 + CUDA 12", "ubuntu", "24.04", 40, 8192, 6.5),
]
# name, cpus, ram MB, disk GB, gpus, reservable
HOSTS = [
    ("compute-01", 32, 131072, 2000, 0, False),
    ("compute-02", 32, 131072, 2000, 0, False),
    ("compute-03", 32, 131072, 2000, 0, False),
    ("gpu-01", 32, 262144, 4000, 4, False),
    ("reserve-01", 32, 131072, 2000, 0, True),
    ("reserve-02", 32, 131072, 2000, 0, True),
]
TEMPLATES = [("kubernetes-1.31", "1.31.4"), ("kubernetes-1.32", "1.32.1")]
QUOTAS = {"machines": 10, "cpus": 32, "ram_mb": 65536, "external_ips": 4, "volumes": 10, "volume_gb": 1000}


@transaction.atomic
def local_cloud_seed(cloud: Model, *, projects: Iterable[str] = ()) -> list[str]:
    """Fill `cloud` (a local one) with the demo hardware and catalogue; returns what was created."""
    created: list[str] = []

    def ensure(what: str, model: type[M], defaults: Mapping[str, Any], **lookup: Any) -> M:
        row, new = model._default_manager.get_or_create(cloud_id=cloud.pk, defaults=dict(defaults), **lookup)
        if new:
            created.append(what)
        return row

    sizes = {
        name: ensure(
            f"size {name}",
            LocalSize,
            {"cpus": cpus, "ram_mb": ram, "disk_gb": disk, "gpus": gpus, "description": description},
            name=name,
        )
        for name, cpus, ram, disk, gpus, description in SIZES
    }
    for name, distro, version, min_disk, min_ram, size_gb in IMAGES:
        image = {
            "os_distro": distro,
            "os_version": version,
            "min_disk_gb": min_disk,
            "min_ram_mb": min_ram,
            "size_bytes": int(size_gb * GB),
        }
        ensure(f"image {name}", LocalImage, image, name=name, project_id="")
    for name, cpus, ram, disk, gpus, reservable in HOSTS:
        host = {"cpus": cpus, "ram_mb": ram, "disk_gb": disk, "gpus": gpus, "reservable": reservable}
        ensure(f"host {name}", LocalHost, host, name=name)
    external = {"cidr": "203.0.113.0/24", "project_id": ""}
    ensure("external network public", LocalNetwork, external, name="public", external=True)
    for name, version in TEMPLATES:
        template = {"kubernetes_version": version, "master_size": sizes["medium"], "worker_size": sizes["large"]}
        ensure(f"cluster template {name}", LocalClusterTemplate, template, name=name)
    for project_id in projects:
        ensure(f"quotas for {project_id}", LocalQuota, QUOTAS, project_id=project_id)
    return created
