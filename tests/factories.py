"""factory_boy factories, one for every model under apps/ (tests/unit/test_factories.py checks
that none is missing and that each makes a row that passes `full_clean`).

Defaults make a plausible, valid row that needs nothing else: a machine of its own tenancy
(no cloud server behind it: give `cloud_id` of a real one when a driver must find it), a
firewall rule of its own machine in the machine's tenancy, a job on its tenancy. Every model
is imported here and only here, so a model that moves to another app is a one-line change.
"""

import base64
import hashlib
from datetime import timedelta
from typing import Any, TypeVar

import factory
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from apps.accounts.models import ApiToken, GroupMapping, OidcToken, SshPublicKey, User
from apps.catalogue.capabilities import capabilities_to_dict
from apps.catalogue.models import Catalogue
from apps.clouds.base import Capabilities
from apps.clouds.models import (
    LocalAllocation,
    LocalCluster,
    LocalClusterTemplate,
    LocalExternalIp,
    LocalFault,
    LocalFirewallRule,
    LocalHost,
    LocalImage,
    LocalKeyPair,
    LocalLease,
    LocalMachine,
    LocalNetwork,
    LocalQuota,
    LocalReservation,
    LocalSize,
    LocalVolume,
)
from apps.jobs.models import CloudWatch, Job, JobLock, JobLogLine, JobStage, TenancySync, WorkerHeartbeat
from apps.machines.models import ExternalIp, FirewallRule, Machine, Volume
from apps.platforms.models import PlatformType
from apps.tenancies.models import Cloud, Membership, Tenancy

T = TypeVar("T")

# --- tenancies and people ---------------------------------------------------------------------


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Ada"
    last_name = factory.Sequence(lambda n: f"Tester{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class CloudFactory(factory.django.DjangoModelFactory[Cloud]):
    class Meta:
        model = Cloud
        django_get_or_create = ["name"]

    name = "Test cloud"
    driver = Cloud.Driver.LOCAL


class TenancyFactory(factory.django.DjangoModelFactory[Tenancy]):
    class Meta:
        model = Tenancy

    name = factory.Sequence(lambda n: f"Tenancy {n}")
    cloud = factory.SubFactory(CloudFactory)
    project_id = factory.Sequence(lambda n: f"project-{n}")


class MembershipFactory(factory.django.DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    tenancy = factory.SubFactory(TenancyFactory)
    role = Membership.Role.MEMBER


class GroupMappingFactory(factory.django.DjangoModelFactory[GroupMapping]):
    class Meta:
        model = GroupMapping

    group = factory.Sequence(lambda n: f"group-{n}")
    tenancy = factory.SubFactory(TenancyFactory)
    role = Membership.Role.MEMBER


# --- credentials --------------------------------------------------------------------------------


def ssh_public_key_line(comment: str = "tester@laptop") -> str:
    """A fresh ed25519 public key, as a .pub file holds it."""
    public = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return f"{public} {comment}"


def ssh_fingerprint(public_key: str) -> str:
    """The SHA256 fingerprint of a public key line, as `ssh-keygen -l` prints it."""
    digest = hashlib.sha256(base64.b64decode(public_key.split()[1])).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


class SshPublicKeyFactory(factory.django.DjangoModelFactory[SshPublicKey]):
    class Meta:
        model = SshPublicKey

    user = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"key-{n}")
    public_key = factory.LazyFunction(ssh_public_key_line)
    key_type = "ssh-ed25519"
    bits = 256
    fingerprint = factory.LazyAttribute(lambda k: ssh_fingerprint(k.public_key))


class ApiTokenFactory(factory.django.DjangoModelFactory[ApiToken]):
    """A token made as the service makes it (hashed); the full key is on `.key`, as once shown."""

    class Meta:
        model = ApiToken

    user = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"token-{n}")
    expiry: Any = None  # a timedelta from now, or None: never expires

    @classmethod
    def _create(cls, model_class: type[ApiToken], *args: Any, **kwargs: Any) -> ApiToken:
        token, key = model_class.objects.create(prefix=settings.ATRIUM_TOKEN_PREFIX, **kwargs)
        token.key = key
        return token


class OidcTokenFactory(factory.django.DjangoModelFactory[OidcToken]):
    class Meta:
        model = OidcToken

    user = factory.SubFactory(UserFactory)
    access_token = factory.Sequence(lambda n: f"access-token-{n}")
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=1))
    source = OidcToken.Source.SIGN_IN


# --- machines and what they use ----------------------------------------------------------------


class MachineFactory(factory.django.DjangoModelFactory[Machine]):
    """An active machine. Its cloud id names no server: give a real one when a driver must find it."""

    class Meta:
        model = Machine

    tenancy = factory.SubFactory(TenancyFactory)
    name = factory.Sequence(lambda n: f"machine-{n}")
    cloud_id = factory.Sequence(lambda n: f"server-{n}")
    status = "ACTIVE"
    image_id = "image-1"
    image_name = "Debian 12"
    size_id = "size-1"
    size_name = "small"


class ExternalIpFactory(factory.django.DjangoModelFactory[ExternalIp]):
    class Meta:
        model = ExternalIp

    tenancy = factory.SubFactory(TenancyFactory)
    cloud_id = factory.Sequence(lambda n: f"ip-{n}")
    address = factory.Sequence(lambda n: f"203.0.113.{n % 254 + 1}")


class VolumeFactory(factory.django.DjangoModelFactory[Volume]):
    class Meta:
        model = Volume

    tenancy = factory.SubFactory(TenancyFactory)
    name = factory.Sequence(lambda n: f"volume-{n}")
    cloud_id = factory.Sequence(lambda n: f"volume-{n}")
    size_gb = 1
    status = "AVAILABLE"


class FirewallRuleFactory(factory.django.DjangoModelFactory[FirewallRule]):
    """SSH from anywhere, on a machine (of the rule's tenancy) that has a firewall."""

    class Meta:
        model = FirewallRule

    machine = factory.SubFactory(MachineFactory, has_firewall=True)
    tenancy = factory.LazyAttribute(lambda r: r.machine.tenancy)
    cloud_id = factory.Sequence(lambda n: f"rule-{n}")
    protocol = "tcp"
    port_min = 22
    port_max = 22


class CatalogueFactory(factory.django.DjangoModelFactory[Catalogue]):
    """A fresh catalogue of one image and one size (the ids MachineFactory uses), of a cloud that has
    external IPs, firewalls, volumes, key pairs and console logs."""

    class Meta:
        model = Catalogue

    tenancy = factory.SubFactory(TenancyFactory)
    images = factory.LazyFunction(lambda: [{"id": "image-1", "name": "Debian 12"}])
    sizes = factory.LazyFunction(lambda: [{"id": "size-1", "name": "small", "cpus": 1, "ram_mb": 2048}])
    capabilities_data = factory.LazyFunction(
        lambda: capabilities_to_dict(
            Capabilities(external_ips=True, firewall=True, volumes=True, keypairs=True, console_log=True)
        )
    )
    refreshed_at = factory.LazyFunction(timezone.now)


# --- platform types ---------------------------------------------------------------------------


class PlatformTypeFactory(factory.django.DjangoModelFactory[PlatformType]):
    """A valid type with one string parameter, offered to no tenancy (pass `available_to_all`
    or add `tenancies`); `spec` may be given whole (its name is the row's)."""

    class Meta:
        model = PlatformType

    name = factory.Sequence(lambda n: f"ptype{n}")
    label = factory.LazyAttribute(lambda o: f"Type {o.name}")
    version = "1.0.0"
    description = "A *test* platform type."
    spec = factory.LazyAttribute(
        lambda o: {
            "name": o.name,
            "label": o.label,
            "description": o.description,
            "version": o.version,
            "parameters": [{"name": "motd", "kind": "string", "default": "hello"}],
            "services": [],
            "usage": "",
        }
    )


# --- jobs ---------------------------------------------------------------------------------------


class JobFactory(factory.django.DjangoModelFactory[Job]):
    """A queued job of the tests' three-step kind, on its tenancy (a tenancy sync's target)."""

    class Meta:
        model = Job

    kind = "test.steps"
    tenancy = factory.SubFactory(TenancyFactory)
    target_type = factory.LazyFunction(lambda: ContentType.objects.get_for_model(Tenancy))
    target_id = factory.LazyAttribute(lambda j: str(j.tenancy.pk))
    target_repr = factory.LazyAttribute(lambda j: str(j.tenancy))


class JobStageFactory(factory.django.DjangoModelFactory[JobStage]):
    class Meta:
        model = JobStage

    job = factory.SubFactory(JobFactory)
    position = factory.Sequence(lambda n: n)
    name = factory.Sequence(lambda n: f"Stage {n}")


class JobLogLineFactory(factory.django.DjangoModelFactory[JobLogLine]):
    class Meta:
        model = JobLogLine

    job = factory.SubFactory(JobFactory)
    message = factory.Sequence(lambda n: f"line {n}")


class JobLockFactory(factory.django.DjangoModelFactory[JobLock]):
    class Meta:
        model = JobLock

    job = factory.SubFactory(JobFactory)
    target_key = factory.LazyAttribute(lambda lock: lock.job.target_key)


class TenancySyncFactory(factory.django.DjangoModelFactory[TenancySync]):
    class Meta:
        model = TenancySync

    tenancy = factory.SubFactory(TenancyFactory)


class CloudWatchFactory(factory.django.DjangoModelFactory[CloudWatch]):
    class Meta:
        model = CloudWatch

    tenancy = factory.SubFactory(TenancyFactory)
    family = "machines.servers"


class WorkerHeartbeatFactory(factory.django.DjangoModelFactory[WorkerHeartbeat]):
    class Meta:
        model = WorkerHeartbeat

    worker_id = factory.Sequence(lambda n: f"worker-{n}")
    hostname = "node1"
    pid = factory.Sequence(lambda n: 1000 + n)
    backend = "database"


# --- the local (simulated) cloud's own state -----------------------------------------------------


class _OnLocalCloud(factory.django.DjangoModelFactory[T]):
    """A row of the local cloud (the shared test cloud unless given one)."""

    class Meta:
        abstract = True

    cloud = factory.SubFactory(CloudFactory)


class _InLocalProject(_OnLocalCloud[T]):
    """A row of one project on the local cloud."""

    class Meta:
        abstract = True

    project_id = factory.Sequence(lambda n: f"project-{n}")


class LocalHostFactory(_OnLocalCloud[LocalHost]):
    class Meta:
        model = LocalHost

    name = factory.Sequence(lambda n: f"host-{n}")
    cpus = 32
    ram_mb = 131072
    disk_gb = 2000


class LocalImageFactory(_OnLocalCloud[LocalImage]):
    class Meta:
        model = LocalImage

    name = factory.Sequence(lambda n: f"Image {n}")
    os_distro = "debian"
    os_version = "12"


class LocalSizeFactory(_OnLocalCloud[LocalSize]):
    class Meta:
        model = LocalSize

    name = factory.Sequence(lambda n: f"size-{n}")
    cpus = 1
    ram_mb = 2048
    disk_gb = 20


class LocalNetworkFactory(_InLocalProject[LocalNetwork]):
    class Meta:
        model = LocalNetwork

    name = factory.Sequence(lambda n: f"network-{n}")
    cidr = factory.Sequence(lambda n: f"10.{n % 250}.0.0/24")


class LocalQuotaFactory(_InLocalProject[LocalQuota]):
    class Meta:
        model = LocalQuota


class LocalLeaseFactory(_InLocalProject[LocalLease]):
    class Meta:
        model = LocalLease

    name = factory.Sequence(lambda n: f"lease-{n}")
    start = factory.LazyFunction(timezone.now)
    end = factory.LazyAttribute(lambda lease: lease.start + timedelta(days=1))


class LocalReservationFactory(factory.django.DjangoModelFactory[LocalReservation]):
    class Meta:
        model = LocalReservation

    lease = factory.SubFactory(LocalLeaseFactory)
    kind = LocalReservation.Kind.HOST
    count = 1


class LocalAllocationFactory(factory.django.DjangoModelFactory[LocalAllocation]):
    class Meta:
        model = LocalAllocation

    reservation = factory.SubFactory(LocalReservationFactory)
    host = factory.SubFactory(LocalHostFactory, cloud=factory.SelfAttribute("..reservation.lease.cloud"))


class LocalMachineFactory(_InLocalProject[LocalMachine]):
    class Meta:
        model = LocalMachine

    name = factory.Sequence(lambda n: f"server-{n}")
    image = factory.SubFactory(LocalImageFactory, cloud=factory.SelfAttribute("..cloud"))
    size = factory.SubFactory(LocalSizeFactory, cloud=factory.SelfAttribute("..cloud"))
    network = factory.SubFactory(
        LocalNetworkFactory, cloud=factory.SelfAttribute("..cloud"), project_id=factory.SelfAttribute("..project_id")
    )
    internal_ip = factory.Sequence(lambda n: f"10.0.0.{n % 250 + 2}")
    status = "ACTIVE"


class LocalFirewallRuleFactory(factory.django.DjangoModelFactory[LocalFirewallRule]):
    class Meta:
        model = LocalFirewallRule

    machine = factory.SubFactory(LocalMachineFactory)
    protocol = "tcp"
    port_min = 22
    port_max = 22
    remote_cidr = "0.0.0.0/0"


class LocalExternalIpFactory(_InLocalProject[LocalExternalIp]):
    class Meta:
        model = LocalExternalIp

    address = factory.Sequence(lambda n: f"198.51.100.{n % 254 + 1}")


class LocalVolumeFactory(_InLocalProject[LocalVolume]):
    class Meta:
        model = LocalVolume

    name = factory.Sequence(lambda n: f"volume-{n}")
    size_gb = 1


class LocalKeyPairFactory(_InLocalProject[LocalKeyPair]):
    class Meta:
        model = LocalKeyPair

    name = factory.Sequence(lambda n: f"keypair-{n}")
    public_key = factory.LazyFunction(ssh_public_key_line)
    fingerprint = factory.LazyAttribute(lambda k: ssh_fingerprint(k.public_key))


class LocalClusterTemplateFactory(_OnLocalCloud[LocalClusterTemplate]):
    class Meta:
        model = LocalClusterTemplate

    name = factory.Sequence(lambda n: f"kubernetes-{n}")
    kubernetes_version = "1.30"
    master_size = factory.SubFactory(LocalSizeFactory, cloud=factory.SelfAttribute("..cloud"))
    worker_size = factory.SelfAttribute("master_size")


class LocalClusterFactory(_InLocalProject[LocalCluster]):
    class Meta:
        model = LocalCluster

    name = factory.Sequence(lambda n: f"cluster-{n}")
    template = factory.SubFactory(LocalClusterTemplateFactory, cloud=factory.SelfAttribute("..cloud"))
    kubernetes_version = factory.SelfAttribute("template.kubernetes_version")
    master_size = factory.SelfAttribute("template.master_size")
    worker_size = factory.SelfAttribute("template.worker_size")
    worker_count = 1
    api_address = factory.Sequence(lambda n: f"198.51.100.{n % 254 + 1}")
    status = "CREATE_COMPLETE"


class LocalFaultFactory(_OnLocalCloud[LocalFault]):
    """The next call of any driver operation fails as a cloud error, once."""

    class Meta:
        model = LocalFault

    operation = "*"
    kind = LocalFault.Kind.ERROR
    remaining = 1
