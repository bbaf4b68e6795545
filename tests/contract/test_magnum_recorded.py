"""RECORDED, NOT REAL: the OpenStack driver's Kubernetes part (Magnum, service
type `container-infra`) against recorded Magnum responses.

No Magnum runs here (it needs Heat, Barbican or its x509 store, and images that
boot Kubernetes), so until one does, these tests replay responses shaped like
Magnum's API reference (tests/contract/recordings/magnum/, README.md there says
where each comes from and at which API microversion). Everything between the
driver and the wire is real: the driver, openstacksdk's proxy and keystoneauth's
session, version discovery and token handling; `requests-mock` answers at the
transport adapter instead of a server. So these tests prove the driver sends
what Magnum's API reference asks for and reads what it documents; they cannot
prove a real Magnum agrees. Every test here carries the `recorded` marker
(`pytest -m recorded` runs just these; `-m "not recorded"` leaves them out).
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests_mock as rm
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from apps.clouds import dto, errors
from apps.clouds.base import CloudDriver
from apps.clouds.registry import driver_for_tenancy
from apps.tenancies.models import Cloud
from tests.factories import CloudFactory, TenancyFactory

pytestmark = [pytest.mark.recorded, pytest.mark.django_db]

RECORDINGS = Path(__file__).parent / "recordings" / "magnum"
KEYSTONE = "https://keystone.recorded.test:5000/v3"
MAGNUM = "https://magnum.recorded.test:9511"
#: Magnum's microversion header (magnum/api/controllers/versions.py); the service
#: name in it must be `container-infra`, whatever the catalogue calls the service.
VERSION_HEADER = "OpenStack-API-Version"

ANALYSIS = "746e779a-751a-456b-a3e9-c883d734946f"  # CREATE_COMPLETE, 3 workers
BROKEN = "731387cf-a92b-4c36-981e-3271d63e5597"  # CREATE_FAILED
GENOMICS = "e2c1f7a0-8b3d-4f5e-9a6c-7d8e9f0a1b2c"  # what a create makes
K8S_127 = "0562d357-8641-4759-8fed-8173f02c9633"
K8S_128 = "7d2f0c5e-3a41-4b8e-9c77-1f0e5b2d8a64"


def recording(name: str) -> Any:
    return json.loads((RECORDINGS / f"{name}.json").read_text())


@dataclass
class RecordedMagnum:
    """A Keystone and a Magnum that answer with recordings, and a driver for a
    tenancy on that cloud (its own application credential, so no connection
    cached by another test is reused)."""

    http: rm.Mocker
    driver: CloudDriver

    def reply(
        self,
        method: str,
        path: str,
        name: str | None = None,
        *,
        status: int = 200,
        body: Callable[[Any, Any], Any] | None = None,
    ) -> None:
        """Answer `method` on Magnum's `path` with recording `name` (or `body`)."""
        headers = {"Content-Type": "application/json", "OpenStack-API-Maximum-Version": "container-infra 1.11"}
        if body is not None:
            self.http.register_uri(method, f"{MAGNUM}{path}", json=body, status_code=status, headers=headers)
        elif name is not None:
            self.http.register_uri(method, f"{MAGNUM}{path}", json=recording(name), status_code=status, headers=headers)
        else:
            self.http.register_uri(method, f"{MAGNUM}{path}", status_code=status)

    def sent(self, method: str, path: str) -> list[Any]:
        """The requests the driver sent to Magnum's `path`."""
        return [
            request
            for request in self.http.request_history
            if request.method == method and request.url.split("?")[0] == f"{MAGNUM}{path}"
        ]

    def magnum_calls(self) -> list[Any]:
        return [request for request in self.http.request_history if request.url.startswith(MAGNUM)]


def _token(*, with_magnum: bool) -> dict[str, Any]:
    token = copy.deepcopy(recording("keystone-auth-application-credential-response"))
    if not with_magnum:
        token["token"]["catalog"] = [s for s in token["token"]["catalog"] if s["type"] != "container-infra"]
    return token


def _recorded_cloud(http: rm.Mocker, *, with_magnum: bool = True) -> RecordedMagnum:
    http.post(
        f"{KEYSTONE}/auth/tokens",
        json=_token(with_magnum=with_magnum),
        status_code=201,
        headers={"X-Subject-Token": uuid.uuid4().hex},
    )
    cloud = CloudFactory(name="Recorded Magnum cloud", driver=Cloud.Driver.OPENSTACK, endpoint=KEYSTONE)
    tenancy = TenancyFactory(
        name="Physics",
        cloud=cloud,
        project_id="",
        credentials={"application_credential_id": uuid.uuid4().hex, "application_credential_secret": "recorded"},
    )
    # The catalogue's endpoint names the version (…/v1), so the SDK asks no version document.
    return RecordedMagnum(http=http, driver=driver_for_tenancy(tenancy))


@pytest.fixture
def magnum(requests_mock: rm.Mocker) -> RecordedMagnum:
    return _recorded_cloud(requests_mock)


# Capabilities ---------------------------------------------------------------------------


def test_kubernetes_is_offered_where_the_catalogue_has_container_infra(magnum):
    assert magnum.driver.capabilities().kubernetes


def test_without_container_infra_in_the_catalogue_kubernetes_is_unsupported(requests_mock):
    cloud = _recorded_cloud(requests_mock, with_magnum=False)
    assert cloud.driver.capabilities().kubernetes is False
    calls: list[Callable[[], object]] = [
        cloud.driver.cluster_templates,
        cloud.driver.clusters,
        lambda: cloud.driver.cluster_get(cluster_id=ANALYSIS),
        lambda: cloud.driver.cluster_create(name="genomics", template_id=K8S_127, worker_count=2),
        lambda: cloud.driver.cluster_resize(cluster_id=ANALYSIS, worker_count=4),
        lambda: cloud.driver.cluster_upgrade(cluster_id=ANALYSIS, template_id=K8S_128),
        lambda: cloud.driver.cluster_delete(cluster_id=ANALYSIS),
        lambda: cloud.driver.cluster_kubeconfig(cluster_id=ANALYSIS),
    ]
    for call in calls:
        with pytest.raises(errors.Unsupported, match="Kubernetes"):
            call()
    assert cloud.magnum_calls() == []


# Reading ------------------------------------------------------------------------------


def test_templates_are_the_kubernetes_ones_with_their_versions(magnum):
    magnum.reply("GET", "/v1/clustertemplates", "clustertemplate-get-all-resp")
    templates = magnum.driver.cluster_templates()
    assert [(t.id, t.name, t.kubernetes_version) for t in templates] == [
        (K8S_127, "k8s-1.27", "v1.27.8"),
        (K8S_128, "k8s-1.28", "v1.28.5"),
    ]  # the swarm template is left out
    assert templates[0].worker_size_id == "m1.medium"
    assert templates[0].master_size_id == "m1.small"


def test_clusters_are_listed_with_status_workers_and_kubernetes_version(magnum):
    magnum.reply("GET", "/v1/clusters", "cluster-get-all-resp")
    magnum.reply("GET", f"/v1/clusters/{ANALYSIS}", "cluster-get-one-resp")
    magnum.reply("GET", f"/v1/clusters/{BROKEN}", "cluster-get-one-failed-resp")
    clusters = {c.id: c for c in magnum.driver.clusters()}
    assert set(clusters) == {ANALYSIS, BROKEN}

    analysis = clusters[ANALYSIS]
    assert analysis.name == "analysis"
    assert analysis.status == dto.ClusterStatus.CREATE_COMPLETE
    assert analysis.worker_count == 3
    assert analysis.kubernetes_version == "v1.27.8"  # only the cluster's own page says it
    assert analysis.api_address == "https://172.24.4.6:6443"
    assert analysis.template_id == K8S_127
    assert [(g.role, g.count) for g in analysis.node_groups] == [("master", 1), ("worker", 3)]

    broken = clusters[BROKEN]
    assert broken.status == dto.ClusterStatus.CREATE_FAILED
    assert "No valid host was found" in broken.status_reason  # why it failed, as Magnum says


def test_a_cluster_gone_between_list_and_read_is_left_out(magnum):
    magnum.reply("GET", "/v1/clusters", "cluster-get-all-resp")
    magnum.reply("GET", f"/v1/clusters/{ANALYSIS}", "cluster-get-one-resp")
    magnum.reply("GET", f"/v1/clusters/{BROKEN}", "error-404-cluster-not-found", status=404)
    assert [c.id for c in magnum.driver.clusters()] == [ANALYSIS]


def test_a_cluster_is_read_with_its_status_reason(magnum):
    magnum.reply("GET", f"/v1/clusters/{BROKEN}", "cluster-get-one-failed-resp")
    cluster = magnum.driver.cluster_get(cluster_id=BROKEN)
    assert cluster.status == dto.ClusterStatus.CREATE_FAILED
    assert cluster.status_reason.startswith("Resource CREATE failed")
    assert cluster.api_address is None
    assert cluster.kubernetes_version == ""


# Changing -----------------------------------------------------------------------------


def test_create_sends_the_template_counts_and_key_pair(magnum):
    magnum.reply("POST", "/v1/clusters", "cluster-create-resp", status=202)
    magnum.reply("GET", f"/v1/clusters/{GENOMICS}", "cluster-get-one-creating-resp")
    cluster = magnum.driver.cluster_create(
        name="genomics", template_id=K8S_127, worker_count=2, master_count=1, key_name="physicist-laptop"
    )
    (sent,) = magnum.sent("POST", "/v1/clusters")
    assert sent.json() == {
        "name": "genomics",
        "cluster_template_id": K8S_127,
        "node_count": 2,
        "master_count": 1,
        "keypair": "physicist-laptop",
    }
    assert cluster.id == GENOMICS
    assert cluster.status == dto.ClusterStatus.CREATE_IN_PROGRESS
    assert cluster.worker_count == 2


def test_create_without_a_key_pair_sends_none_and_can_choose_the_worker_size(magnum):
    magnum.reply("POST", "/v1/clusters", "cluster-create-resp", status=202)
    magnum.reply("GET", f"/v1/clusters/{GENOMICS}", "cluster-get-one-creating-resp")
    magnum.driver.cluster_create(name="genomics", template_id=K8S_127, worker_count=2, worker_size_id="m1.large")
    (sent,) = magnum.sent("POST", "/v1/clusters")
    assert "keypair" not in sent.json()
    assert sent.json()["flavor_id"] == "m1.large"


@pytest.mark.parametrize("workers", [0, -1])
def test_no_workers_is_refused_before_anything_is_sent(magnum, workers):
    with pytest.raises(errors.BadInput) as caught:
        magnum.driver.cluster_create(name="genomics", template_id=K8S_127, worker_count=workers)
    assert caught.value.fields == {"worker_count": ["At least 1."]}
    with pytest.raises(errors.BadInput):
        magnum.driver.cluster_resize(cluster_id=ANALYSIS, worker_count=workers)
    assert magnum.http.request_history == []  # not even Keystone was asked


def test_resize_sends_the_worker_count_at_the_microversion_that_has_resize(magnum):
    magnum.reply("POST", f"/v1/clusters/{ANALYSIS}/actions/resize", "cluster-resize-resp", status=202)
    magnum.reply("GET", f"/v1/clusters/{ANALYSIS}", "cluster-get-one-resp")
    cluster = magnum.driver.cluster_resize(cluster_id=ANALYSIS, worker_count=5)
    (sent,) = magnum.sent("POST", f"/v1/clusters/{ANALYSIS}/actions/resize")
    assert sent.json() == {"node_count": 5}
    # Resize came with API 1.7; without the header Magnum serves 1.1 and answers 406.
    assert sent.headers[VERSION_HEADER] == "container-infra 1.7"
    assert cluster.id == ANALYSIS


def test_upgrade_sends_the_template_at_the_microversion_that_has_upgrade(magnum):
    magnum.reply("POST", f"/v1/clusters/{ANALYSIS}/actions/upgrade", "cluster-upgrade-resp", status=202)
    magnum.reply("GET", f"/v1/clusters/{ANALYSIS}", "cluster-get-one-resp")
    magnum.driver.cluster_upgrade(cluster_id=ANALYSIS, template_id=K8S_128)
    (sent,) = magnum.sent("POST", f"/v1/clusters/{ANALYSIS}/actions/upgrade")
    assert sent.json() == {"cluster_template": K8S_128}
    assert sent.headers[VERSION_HEADER] == "container-infra 1.8"


def test_a_magnum_without_resize_says_so(magnum):
    magnum.reply("POST", f"/v1/clusters/{ANALYSIS}/actions/resize", "error-406-version", status=406)
    with pytest.raises(errors.Unsupported, match="resize"):
        magnum.driver.cluster_resize(cluster_id=ANALYSIS, worker_count=5)


def test_delete(magnum):
    magnum.reply("DELETE", f"/v1/clusters/{ANALYSIS}", status=204)
    magnum.driver.cluster_delete(cluster_id=ANALYSIS)
    assert len(magnum.sent("DELETE", f"/v1/clusters/{ANALYSIS}")) == 1


# What Magnum refuses ----------------------------------------------------------------------


def test_an_unknown_cluster_is_not_found_with_magnums_words(magnum):
    for method in ("GET", "DELETE"):
        magnum.reply(method, f"/v1/clusters/{ANALYSIS}", "error-404-cluster-not-found", status=404)
    magnum.reply("POST", f"/v1/clusters/{ANALYSIS}/actions/resize", "error-404-cluster-not-found", status=404)
    words = "Not found on the cloud: Cluster 0b4b766f-1500-44b3-9804-5a6e12fe6df4 could not be found."
    for call in (
        lambda: magnum.driver.cluster_get(cluster_id=ANALYSIS),
        lambda: magnum.driver.cluster_delete(cluster_id=ANALYSIS),
        lambda: magnum.driver.cluster_resize(cluster_id=ANALYSIS, worker_count=2),
    ):
        with pytest.raises(errors.NotFound) as caught:
            call()
        assert caught.value.message == words  # Magnum's words, not its JSON


@pytest.mark.parametrize(
    ("status", "name", "expected", "words"),
    [
        (403, "error-403-policy", errors.PermissionDenied, "The cloud does not allow this: Policy doesn't allow"),
        (403, "error-403-cluster-limit", errors.QuotaExceeded, "Over quota: Resource limit exceeded: You have"),
        (400, "error-400-template-not-found", errors.BadInput, "The cloud refused the request: ClusterTemplate "),
    ],
)
def test_a_refused_create_is_the_drivers_error_with_magnums_words(magnum, status, name, expected, words):
    magnum.reply("POST", "/v1/clusters", name, status=status)
    with pytest.raises(expected) as caught:
        magnum.driver.cluster_create(name="genomics", template_id=K8S_127, worker_count=2)
    assert type(caught.value) is expected
    assert caught.value.message.startswith(words)
    assert caught.value.message.endswith(recording(name)["errors"][0]["detail"])  # not its JSON
    assert not caught.value.retryable


# Kubeconfig -------------------------------------------------------------------------------


class ClusterCA:
    """A cluster CA that signs client CSRs the way Magnum's x509 operations do."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "analysis")])
        now = datetime.now(UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=1))
            .not_valid_after(now + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM).decode()
        self.csrs: list[x509.CertificateSigningRequest] = []

    def sign(self, csr_pem: str) -> str:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
        assert csr.is_signature_valid
        self.csrs.append(csr)
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(self.cert.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=1))
            .not_valid_after(now + timedelta(days=365 * 5))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_kubeconfig_has_the_api_address_the_ca_and_a_client_cert_magnum_signed(magnum):
    ca = ClusterCA()

    def show_ca(request, context):
        return {**recording("certificates-ca-show-resp"), "pem": ca.pem}

    def sign(request, context):
        sent = request.json()
        return {**recording("certificates-ca-sign-resp"), "csr": sent["csr"], "pem": ca.sign(sent["csr"])}

    magnum.reply("GET", f"/v1/clusters/{ANALYSIS}", "cluster-get-one-resp")
    magnum.reply("GET", f"/v1/certificates/{ANALYSIS}", body=show_ca)
    magnum.reply("POST", "/v1/certificates", body=sign, status=201)

    config = yaml.safe_load(magnum.driver.cluster_kubeconfig(cluster_id=ANALYSIS))

    (sent,) = magnum.sent("POST", "/v1/certificates")
    assert sent.json()["cluster_uuid"] == ANALYSIS
    (csr,) = ca.csrs
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "admin"
    assert csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"

    assert config["kind"] == "Config"
    (cluster,) = config["clusters"]
    assert cluster["cluster"]["server"] == "https://172.24.4.6:6443"
    assert base64.b64decode(cluster["cluster"]["certificate-authority-data"]).decode() == ca.pem
    (user,) = config["users"]
    client = x509.load_pem_x509_certificate(base64.b64decode(user["user"]["client-certificate-data"]))
    key = serialization.load_pem_private_key(base64.b64decode(user["user"]["client-key-data"]), password=None)
    client.verify_directly_issued_by(ca.cert)
    assert client.public_key() == key.public_key()
    assert config["current-context"] in {c["name"] for c in config["contexts"]}
    (context,) = config["contexts"]
    assert context["context"] == {"cluster": cluster["name"], "user": user["name"]}


def test_no_kubeconfig_before_the_cluster_has_an_api_address(magnum):
    magnum.reply("GET", f"/v1/clusters/{GENOMICS}", "cluster-get-one-creating-resp")
    with pytest.raises(errors.InvalidOperation, match="no API address"):
        magnum.driver.cluster_kubeconfig(cluster_id=GENOMICS)
    assert magnum.sent("POST", "/v1/certificates") == []
