"""The Kubernetes family: clusters and their templates."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from .. import dto
from ..errors import BadInput
from .core import DriverCore, unsupported_as


class KubernetesDriver(DriverCore):
    capability_flags: ClassVar[tuple[str, ...]] = ("kubernetes",)

    optional_operations: ClassVar[dict[str, str]] = unsupported_as(
        "Kubernetes clusters",
        (
            "cluster_templates",
            "clusters",
            "cluster_get",
            "_cluster_create",
            "cluster_resize",
            "cluster_upgrade",
            "cluster_delete",
            "cluster_kubeconfig",
        ),
    )

    if TYPE_CHECKING:

        def cluster_templates(self) -> list[dto.KubernetesClusterTemplate]: ...
        def clusters(self) -> list[dto.KubernetesCluster]: ...
        def cluster_get(self, *, cluster_id: str) -> dto.KubernetesCluster: ...
        def _cluster_create(self, spec: dto.ClusterSpec) -> dto.KubernetesCluster: ...
        def cluster_resize(self, *, cluster_id: str, worker_count: int) -> dto.KubernetesCluster: ...
        def cluster_upgrade(self, *, cluster_id: str, template_id: str) -> dto.KubernetesCluster: ...
        def cluster_delete(self, *, cluster_id: str) -> None: ...
        def cluster_kubeconfig(self, *, cluster_id: str) -> str: ...

    def cluster_create(
        self,
        *,
        name: str,
        template_id: str,
        worker_count: int,
        worker_size_id: str | None = None,
        master_count: int = 1,
        key_name: str | None = None,
    ) -> dto.KubernetesCluster:
        """Start making a cluster; at least one worker (BadInput otherwise), checked here
        once; the driver's `_cluster_create` gets the request as a `dto.ClusterSpec`."""
        if worker_count < 1:
            raise BadInput("A cluster needs at least one worker node.", fields={"worker_count": ["At least 1."]})
        spec = dto.ClusterSpec(
            name=name,
            template_id=template_id,
            worker_count=worker_count,
            worker_size_id=worker_size_id,
            master_count=master_count,
            key_name=key_name,
        )
        return self._cluster_create(spec)
