"""The local cloud's Kubernetes family: clusters that build, resize and upgrade on the
simulated clock (nothing answers at their addresses)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from .. import dto
from ..errors import BadInput, InvalidOperation
from ..models import LocalCluster, LocalClusterTemplate, LocalExternalIp, LocalFault, LocalNetwork, LocalSize
from .base import LocalBase, operation
from .convert import cluster_dto, kubeconfig_text
from .faults import fault_take
from .network import next_address

C = dto.ClusterStatus


class LocalKubernetes(LocalBase):
    def _clusters(self) -> QuerySet[LocalCluster]:
        return self._project_rows(LocalCluster).select_related("template", "master_size", "worker_size")

    def _cluster(self, cluster_id: str, *, lock: bool = False) -> LocalCluster:
        return self._project_row(self._clusters(), cluster_id, "Kubernetes cluster", lock=lock)

    def _template(self, template_id: str) -> LocalClusterTemplate:
        template = LocalClusterTemplate.objects.filter(cloud_id=self.cloud_id, uid=template_id).first()
        if template is None:
            raise BadInput(
                f"There is no cluster template {template_id} on this cloud.", fields={"template_id": ["Unknown."]}
            )
        return template

    @operation
    def cluster_templates(self) -> list[dto.KubernetesClusterTemplate]:
        return [
            dto.KubernetesClusterTemplate(
                id=t.uid,
                name=t.name,
                kubernetes_version=t.kubernetes_version,
                master_size_id=t.master_size.uid,
                worker_size_id=t.worker_size.uid,
            )
            for t in LocalClusterTemplate.objects.filter(cloud_id=self.cloud_id).select_related(
                "master_size", "worker_size"
            )
        ]

    @operation
    def clusters(self) -> list[dto.KubernetesCluster]:
        return [cluster_dto(c) for c in self._clusters()]

    @operation
    def cluster_get(self, *, cluster_id: str) -> dto.KubernetesCluster:
        return cluster_dto(self._cluster(cluster_id))

    @operation
    def _cluster_create(self, spec: dto.ClusterSpec) -> dto.KubernetesCluster:
        name = (spec.name or "").strip()
        if not name or len(name) > 100:
            raise BadInput("A cluster needs a name of 1 to 100 characters.", fields={"name": ["1 to 100 characters."]})
        if spec.master_count not in (1, 3, 5):
            raise BadInput("A cluster has 1, 3 or 5 control-plane nodes.", fields={"master_count": ["1, 3 or 5."]})
        template = self._template(spec.template_id)
        worker_size = template.worker_size
        if spec.worker_size_id:
            found = LocalSize.objects.filter(cloud_id=self.cloud_id, uid=spec.worker_size_id).first()
            if found is None:
                raise BadInput(
                    f"There is no size {spec.worker_size_id} on this cloud.",
                    fields={"worker_size_id": ["Unknown size."]},
                )
            worker_size = found
        master = template.master_size
        with transaction.atomic():
            self._check_quota(
                machines=spec.master_count + spec.worker_count,
                cpus=spec.master_count * master.cpus + spec.worker_count * worker_size.cpus,
                ram_mb=spec.master_count * master.ram_mb + spec.worker_count * worker_size.ram_mb,
            )
            failure = fault_take(
                cloud_id=self.cloud_id,
                project_id=self.project_id,
                operation="cluster_create",
                kinds=[LocalFault.Kind.BUILD_FAILURE],
            )
            external = LocalNetwork.objects.filter(cloud_id=self.cloud_id, external=True).first()
            used = set(LocalExternalIp.objects.filter(cloud_id=self.cloud_id).values_list("address", flat=True))
            used |= set(LocalCluster.objects.filter(cloud_id=self.cloud_id).values_list("api_address", flat=True))
            cluster = LocalCluster.objects.create(
                cloud_id=self.cloud_id,
                project_id=self.project_id,
                name=name,
                template=template,
                kubernetes_version=template.kubernetes_version,
                master_size=master,
                worker_size=worker_size,
                master_count=spec.master_count,
                worker_count=spec.worker_count,
                api_address=next_address(external.cidr if external else "203.0.113.0/24", used),
                status=C.CREATE_IN_PROGRESS,
                settles_at=timezone.now() + self._delay("cluster_seconds"),
                settles_to=C.CREATE_FAILED if failure else C.CREATE_COMPLETE,
                status_reason=(failure.message or "The cluster failed to build (injected fault).") if failure else "",
            )
        return cluster_dto(cluster)

    def _cluster_update(self, cluster: LocalCluster, fields: list[str]) -> dto.KubernetesCluster:
        cluster.status = C.UPDATE_IN_PROGRESS
        cluster.settles_to = C.UPDATE_COMPLETE
        cluster.settles_at = timezone.now() + self._delay("cluster_seconds")
        cluster.save(update_fields=[*fields, "status", "settles_to", "settles_at"])
        return cluster_dto(cluster)

    def _cluster_for_update(self, cluster_id: str) -> LocalCluster:
        cluster = self._cluster(cluster_id, lock=True)
        if cluster.status not in (C.CREATE_COMPLETE, C.UPDATE_COMPLETE, C.UPDATE_FAILED):
            raise InvalidOperation(f"The cluster {cluster.name} is {cluster.status}; wait until it is ready.")
        return cluster

    @operation
    def cluster_resize(self, *, cluster_id: str, worker_count: int) -> dto.KubernetesCluster:
        if worker_count < 1:
            raise BadInput("A cluster needs at least one worker node.", fields={"worker_count": ["At least 1."]})
        with transaction.atomic():
            cluster = self._cluster_for_update(cluster_id)
            more = worker_count - cluster.worker_count
            if more == 0:
                raise InvalidOperation(f"The cluster {cluster.name} already has {worker_count} workers.")
            if more > 0:
                self._check_quota(
                    machines=more, cpus=more * cluster.worker_size.cpus, ram_mb=more * cluster.worker_size.ram_mb
                )
            cluster.worker_count = worker_count
            return self._cluster_update(cluster, ["worker_count"])

    @operation
    def cluster_upgrade(self, *, cluster_id: str, template_id: str) -> dto.KubernetesCluster:
        template = self._template(template_id)
        with transaction.atomic():
            cluster = self._cluster_for_update(cluster_id)
            if version_tuple(template.kubernetes_version) <= version_tuple(cluster.kubernetes_version):
                raise InvalidOperation(
                    f"The cluster runs Kubernetes {cluster.kubernetes_version}; the template {template.name} "
                    f"({template.kubernetes_version}) is not newer."
                )
            cluster.template = template
            cluster.kubernetes_version = template.kubernetes_version
            return self._cluster_update(cluster, ["template", "kubernetes_version"])

    @operation
    def cluster_delete(self, *, cluster_id: str) -> None:
        self._cluster(cluster_id).delete()

    @operation
    def cluster_kubeconfig(self, *, cluster_id: str) -> str:
        cluster = self._cluster(cluster_id)
        if cluster.status not in (C.CREATE_COMPLETE, C.UPDATE_COMPLETE, C.UPDATE_IN_PROGRESS, C.UPDATE_FAILED):
            raise InvalidOperation(f"The cluster {cluster.name} is {cluster.status}; it has no API to reach yet.")
        return kubeconfig_text(cluster)


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.lstrip("v").split(".") if part.isdigit())
