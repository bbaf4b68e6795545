"""Atrium's own Terraform provider (apps/platforms/provider) through the real `terraform` binary:
a module with a machine, a volume, an external IP and a firewall rule on the local cloud is
applied, changed in place, partly replaced and destroyed; after each step Atrium's rows and the
local cloud's objects say what Terraform says. The provider runs as Terraform's subprocess on
the test database (hence transaction=True: it sees only committed rows)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from apps.clouds.local.seed import local_cloud_seed
from apps.clouds.local.services import local_fault_inject
from apps.clouds.models import (
    LocalExternalIp,
    LocalFirewallRule,
    LocalImage,
    LocalKeyPair,
    LocalMachine,
    LocalSize,
    LocalVolume,
)
from apps.machines.models import ExternalIp, FirewallRule, Machine, Volume
from apps.platforms.provider import SOURCE
from apps.platforms.provider.install import provider_install
from apps.tenancies.models import Tenancy
from tests.factories import CloudFactory
from tests.servers import base_env
from tests.workers import worker_database_url

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("terraform") is None, reason="no `terraform` binary on PATH"),
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
        reason="real Terraform runs once per CI, in the PostgreSQL run",
    ),
]

PROJECT = "physics-project"
MODULE = """
terraform {
  required_providers {
    atrium = { source = "%(source)s" }
  }
}

variable "tenancy" { type = number }
variable "size" { type = string }
variable "image" { type = string }
variable "attach" { type = bool }
variable "key" { type = string }

provider "atrium" {
  tenancy  = var.tenancy
  platform = "workstation-test"
}

resource "atrium_machine" "node" {
  name           = "node"
  size_id        = var.size
  image_id       = var.image
  ssh_public_key = var.key
  create_timeout = 60
}

resource "atrium_volume" "data" {
  name       = "data"
  size_gb    = 5
  machine_id = var.attach ? atrium_machine.node.id : null
}

resource "atrium_external_ip" "public" {
  machine_id = atrium_machine.node.id
}

resource "atrium_firewall_rule" "jupyter" {
  machine_id = atrium_machine.node.id
  protocol   = "tcp"
  port_min   = 8888
}

output "address" { value = atrium_external_ip.public.address }
output "internal_ip" { value = atrium_machine.node.internal_ip }
output "device" { value = atrium_volume.data.device }
"""


class Terraform:
    def __init__(self, workdir: Path, env: dict[str, str]):
        self.workdir, self.env = workdir, env

    def __call__(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 0, f"terraform {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["terraform", *args, "-no-color"],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def vars(self, **values: object) -> tuple[str, ...]:
        return tuple(
            f"-var={name}={str(value).lower() if isinstance(value, bool) else value}" for name, value in values.items()
        )


@pytest.fixture
def tenancy() -> Tenancy:
    cloud = CloudFactory(name="Terraform cloud", options={"build_seconds": 1, "action_seconds": 0})
    local_cloud_seed(cloud, projects=[PROJECT])
    return Tenancy.objects.create(name="Physics", cloud=cloud, project_id=PROJECT)


@pytest.fixture
def terraform(tmp_path: Path) -> Terraform:
    config = provider_install(tmp_path / "var")
    workdir = tmp_path / "module"
    workdir.mkdir()
    (workdir / "main.tf").write_text(MODULE % {"source": SOURCE})
    env = base_env(
        DATABASE_URL=worker_database_url(),
        ATRIUM_VAR_DIR=str(tmp_path / "var"),
        TF_CLI_CONFIG_FILE=str(config),
        CHECKPOINT_DISABLE="1",
        TF_IN_AUTOMATION="1",
    )
    return Terraform(workdir, env)


def test_apply_update_replace_destroy(tenancy, terraform):
    cloud = {"cloud_id": tenancy.cloud_id, "project_id": PROJECT}
    small, medium = (LocalSize.objects.get(cloud_id=tenancy.cloud_id, name=n).uid for n in ("small", "medium"))
    image = LocalImage.objects.get(cloud_id=tenancy.cloud_id, name="Debian 12").uid
    key = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    asked = {"tenancy": tenancy.pk, "size": small, "image": image, "attach": True, "key": key}

    terraform("init", "-input=false")
    # What the provider refuses before anything is made: an unknown tenancy, a rule's address not
    # written as the network every cloud stores (it would never match the state).
    refused = terraform.run("plan", "-input=false", *terraform.vars(**asked | {"tenancy": 999999}))
    assert refused.returncode == 1
    assert "Atrium has no tenancy 999999" in " ".join(refused.stderr.split())
    (terraform.workdir / "main.tf").write_text(
        (terraform.workdir / "main.tf")
        .read_text()
        .replace("port_min   = 8888", 'port_min = 8888\nremote_cidr = "10.0.0.7"')
    )
    refused = terraform.run("plan", "-input=false", *terraform.vars(**asked))
    assert refused.returncode == 1
    assert "Write the remote range as 10.0.0.7/32." in " ".join(refused.stderr.split())
    (terraform.workdir / "main.tf").write_text(MODULE % {"source": SOURCE})
    assert not Machine.objects.filter(tenancy=tenancy).exists()

    terraform("apply", "-auto-approve", "-input=false", *terraform.vars(**asked))

    machine = Machine.objects.get(tenancy=tenancy, name="node")
    assert (machine.status, machine.size_name, machine.task) == ("ACTIVE", "small", "")
    assert LocalMachine.objects.filter(**cloud, uid=machine.cloud_id, key_name=machine.key_name).exists()
    assert machine.key_name.startswith("atrium-")
    assert LocalKeyPair.objects.filter(**cloud, name=machine.key_name, public_key=key).exists()
    volume = Volume.objects.get(tenancy=tenancy, name="data")
    assert (volume.machine, volume.status, volume.device) == (machine, "IN_USE", "/dev/vdb")
    assert LocalVolume.objects.filter(**cloud, uid=volume.cloud_id, machine__uid=machine.cloud_id).exists()
    ip = ExternalIp.objects.get(tenancy=tenancy)
    assert ip.machine == machine
    assert machine.external_ip == ip.address
    assert LocalExternalIp.objects.filter(**cloud, uid=ip.cloud_id, machine__uid=machine.cloud_id).exists()
    rule = FirewallRule.objects.get(machine=machine, port_min=8888)
    assert (rule.protocol, rule.port_max, rule.remote_cidr, rule.task) == ("tcp", 8888, "0.0.0.0/0", "")
    assert LocalFirewallRule.objects.filter(machine__uid=machine.cloud_id, port_min=8888).exists()
    outputs = json.loads(terraform("output", "-json"))
    assert outputs["address"]["value"] == ip.address
    assert outputs["internal_ip"]["value"] == machine.internal_ip
    assert outputs["device"]["value"] == "/dev/vdb"

    # A rule removed on the cloud, outside Terraform, leaves the state at the next refresh.
    LocalFirewallRule.objects.filter(machine__uid=machine.cloud_id, port_min=8888).delete()
    # Replaced: no cloud resizes a machine here, so a new size is a new machine; the rule is
    # made on it (only made: it was gone), and the volume and the external IP move to it in place.
    asked["size"] = medium
    applied = terraform("apply", "-auto-approve", "-input=false", *terraform.vars(**asked))
    assert "Plan: 2 to add, 2 to change, 1 to destroy." in applied, applied
    new = Machine.objects.get(tenancy=tenancy, name="node")
    assert (new.size_name, new.status) == ("medium", "ACTIVE")
    assert new.cloud_id != machine.cloud_id
    assert not LocalMachine.objects.filter(**cloud, uid=machine.cloud_id).exists()
    ip.refresh_from_db()
    assert ip.machine == new
    assert new.external_ip == ip.address
    volume.refresh_from_db()
    assert (volume.machine, volume.status) == (new, "IN_USE")
    assert LocalVolume.objects.filter(**cloud, uid=volume.cloud_id, machine__uid=new.cloud_id).exists()
    assert FirewallRule.objects.filter(machine=new, port_min=8888).count() == 1
    assert Machine.objects.filter(tenancy=tenancy).count() == 1

    # In place: the volume is detached (planned as one change, nothing made or destroyed).
    asked["attach"] = False
    applied = terraform("apply", "-auto-approve", "-input=false", *terraform.vars(**asked))
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in applied, applied
    volume.refresh_from_db()
    assert (volume.machine, volume.status, volume.device) == (None, "AVAILABLE", "")
    assert LocalVolume.objects.get(**cloud, uid=volume.cloud_id).machine is None
    assert "No changes." in terraform("plan", "-input=false", *terraform.vars(**asked))

    # The cloud refuses one delete: Terraform says why, keeps the volume in its state, and the
    # volume's row is left idle (not "deleting" forever); the next destroy finishes the work.
    local_fault_inject(cloud=tenancy.cloud, operation="volume_delete", kind="error", message="Cinder is down.", times=1)
    refused = terraform.run("destroy", "-auto-approve", "-input=false", *terraform.vars(**asked))
    assert refused.returncode == 1
    assert "atrium_volume: Cinder is down." in refused.stderr
    volume.refresh_from_db()
    assert volume.task == ""
    assert "atrium_volume.data" in terraform("state", "list")

    terraform("destroy", "-auto-approve", "-input=false", *terraform.vars(**asked))
    for model in (Machine, Volume, ExternalIp, FirewallRule):
        assert not model.objects.filter(tenancy=tenancy).exists(), model
    for local in (LocalMachine, LocalVolume, LocalExternalIp):
        assert not local.objects.filter(**cloud).exists(), local
