"""The OpenStack Kubernetes family (Magnum).

Follows Magnum's API reference (container-infra, API v1); tested against recorded
responses (tests/contract/test_magnum_recorded.py) until a real Magnum runs here."""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from .. import dto
from ..errors import BadInput, InvalidOperation, NotFound, Unsupported
from .base import OpenStackBase
from .convert import cluster_dto, kubeconfig_text
from .sdk import ksa_errors, translate_errors


class OpenStackKubernetes(OpenStackBase):
    @property
    def _magnum(self) -> Any:
        if not self.capabilities().kubernetes:
            self._unsupported("Kubernetes clusters")
        return self._conn.container_infrastructure_management

    @translate_errors
    def cluster_templates(self) -> list[dto.KubernetesClusterTemplate]:
        return [
            dto.KubernetesClusterTemplate(
                id=t.id,
                name=t.name,
                kubernetes_version=str((t.labels or {}).get("kube_tag", "")),
                master_size_id=t.master_flavor_id,
                worker_size_id=t.flavor_id,
                extra={"coe": t.coe},
            )
            for t in self._magnum.cluster_templates()
            if t.coe == "kubernetes"
        ]

    @translate_errors
    def clusters(self) -> list[dto.KubernetesCluster]:
        # Magnum's list (GET /v1/clusters) is a summary without the Kubernetes version,
        # the API address or the status reason; only a cluster's own page has them.
        found = []
        for summary in self._magnum.clusters():
            try:
                found.append(self.cluster_get(cluster_id=summary.id))
            except NotFound:
                continue  # deleted since the list was read
        return found

    @translate_errors
    def cluster_get(self, *, cluster_id: str) -> dto.KubernetesCluster:
        return cluster_dto(self._magnum.get_cluster(cluster_id))

    @translate_errors
    def _cluster_create(self, spec: dto.ClusterSpec) -> dto.KubernetesCluster:
        attrs: dict[str, Any] = {
            "name": spec.name,
            "cluster_template_id": spec.template_id,
            "node_count": spec.worker_count,
            "master_count": spec.master_count,
        }
        if spec.worker_size_id:
            attrs["flavor_id"] = spec.worker_size_id
        if spec.key_name:
            attrs["keypair"] = spec.key_name
        cluster = self._magnum.create_cluster(**attrs)
        return self.cluster_get(cluster_id=cluster.id)

    def _cluster_action(self, cluster_id: str, action: str, body: dict[str, Any], microversion: str) -> None:
        """POST /v1/clusters/{id}/actions/{action} at the API microversion that has it.

        Not openstacksdk's Cluster.resize/upgrade: they send no microversion, so Magnum
        serves its base 1.1 and answers 406 (resize needs 1.7, upgrade 1.8), and they
        then index the HTTP response as if it were the body. Magnum reads the header
        only under the service name `container-infra`, whatever the catalogue says.
        """
        try:
            self._magnum.post(
                f"/clusters/{cluster_id}/actions/{action}",
                json=body,
                microversion=microversion,
                microversion_service_type="container-infra",
                raise_exc=True,
            )
        except ksa_errors.HttpError as exc:
            if exc.http_status == 406:
                raise Unsupported(
                    f"{self.target.cloud_name}'s Kubernetes service (Magnum) is too old to {action} clusters "
                    f"(that needs its API {microversion})."
                ) from exc
            raise

    @translate_errors
    def cluster_resize(self, *, cluster_id: str, worker_count: int) -> dto.KubernetesCluster:
        if worker_count < 1:
            raise BadInput("A cluster needs at least one worker node.", fields={"worker_count": ["At least 1."]})
        self._cluster_action(cluster_id, "resize", {"node_count": worker_count}, "1.7")
        return self.cluster_get(cluster_id=cluster_id)

    @translate_errors
    def cluster_upgrade(self, *, cluster_id: str, template_id: str) -> dto.KubernetesCluster:
        self._cluster_action(cluster_id, "upgrade", {"cluster_template": template_id}, "1.8")
        return self.cluster_get(cluster_id=cluster_id)

    @translate_errors
    def cluster_delete(self, *, cluster_id: str) -> None:
        self._magnum.delete_cluster(cluster_id, ignore_missing=False)

    @translate_errors
    def cluster_kubeconfig(self, *, cluster_id: str) -> str:
        """A kubeconfig with a client certificate Magnum signs, as `openstack coe cluster config` makes."""
        cluster = self._magnum.get_cluster(cluster_id)
        if not cluster.api_address:
            raise InvalidOperation(f"The cluster {cluster.name} has no API address yet.")
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.COMMON_NAME, "admin"),
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
                    ]
                )
            )
            .sign(key, hashes.SHA256())
        )
        signed = self._magnum.create_cluster_certificate(
            cluster_uuid=cluster.id, csr=csr.public_bytes(serialization.Encoding.PEM).decode()
        )
        ca = self._magnum.get_cluster_certificate(cluster.id)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
        return kubeconfig_text(
            name=cluster.name,
            server=cluster.api_address,
            ca=str(ca.pem),
            cert=str(signed.pem),
            key=key_pem.decode(),
        )
