"""The Kubernetes family's contract: clusters."""

import pytest

from apps.clouds import dto, errors
from tests.contract.conftest import CloudUnderTest

S = dto.MachineStatus


def test_kubernetes_cluster(cut: CloudUnderTest):
    if not cut.driver.capabilities().kubernetes:
        with pytest.raises(errors.Unsupported):
            cut.driver.clusters()
        pytest.skip("this cloud offers no Kubernetes (checked that asking raises Unsupported)")
    template = cut.driver.cluster_templates()[0]
    with pytest.raises(errors.BadInput):
        cut.driver.cluster_create(name="contract-k8s", template_id=template.id, worker_count=0)
    cluster = cut.driver.cluster_create(name="contract-k8s", template_id=template.id, worker_count=1)
    cut.cleanups.append(lambda: cut.driver.cluster_delete(cluster_id=cluster.id))
    ready = (dto.ClusterStatus.CREATE_COMPLETE, dto.ClusterStatus.UPDATE_COMPLETE)
    cut.wait_for("cluster ready", lambda: cut.driver.cluster_get(cluster_id=cluster.id).status in ready)
    assert "kind: Config" in cut.driver.cluster_kubeconfig(cluster_id=cluster.id)
    cut.driver.cluster_resize(cluster_id=cluster.id, worker_count=2)
    cut.wait_for("cluster resized", lambda: cut.driver.cluster_get(cluster_id=cluster.id).status in ready)
    assert cut.driver.cluster_get(cluster_id=cluster.id).worker_count == 2
