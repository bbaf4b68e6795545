"""The OpenStack side of the contract suite: a Cloud and Tenancy for the
project of the `demo` cloud in a clouds.yaml, authenticating the way Atrium
does in production (an application credential in Tenancy.credentials, made
for this run and deleted after it), or with the member's password when
ATRIUM_TEST_OPENSTACK_AUTH=password. The `admin` cloud sets quotas.

Setup and teardown use the same wrapper the driver uses (apps.clouds.openstack.sdk);
the scenarios themselves only go through the driver. On the rig of tests/openstack/up.sh
(its clouds.yaml sits next to the PID files of its services) the fault run also pauses its
services (SIGSTOP, then SIGCONT): its nova-compute processes, so Nova accepts requests and a
server stays BUILD or STOPPING until they carry on; Glance, so Nova is held in the middle of
making a server.
"""

from __future__ import annotations

import contextlib
import os
import signal
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import yaml

from apps.clouds.openstack import sdk
from apps.clouds.registry import driver_for_tenancy
from apps.tenancies.models import Cloud
from tests.contract.conftest import CloudUnderTest
from tests.factories import CloudFactory, TenancyFactory


def password_connection(config: dict[str, Any]) -> sdk.Connection:
    """A connection as the user of a clouds.yaml entry (`auth` with username and password)."""
    auth = dict(config["auth"])
    auth_url = auth.pop("auth_url")
    return sdk.connect(
        auth_url=auth_url,
        project_id="",
        credentials=auth,
        options={"region_name": config.get("region_name"), "interface": config.get("interface", "public")},
    )


def openstack_cloud_under_test(clouds_yaml: str) -> CloudUnderTest:
    clouds = yaml.safe_load(Path(clouds_yaml).read_text())["clouds"]
    member = clouds[os.environ.get("ATRIUM_TEST_OPENSTACK_CLOUD", "demo")]
    admin = clouds[os.environ.get("ATRIUM_TEST_OPENSTACK_ADMIN_CLOUD", "admin")]
    setup = password_connection(member)
    project_id = str(setup.current_project_id)
    user_id = str(setup.current_user_id)
    identity: Any = setup.identity  # typed as v2 | v3; clouds here speak v3
    credential = identity.create_application_credential(user=user_id, name=f"atrium-contract-{uuid.uuid4().hex[:8]}")

    cloud = CloudFactory(
        name="Contract OpenStack",
        driver=Cloud.Driver.OPENSTACK,
        endpoint=member["auth"]["auth_url"],
        options={
            "region_name": member.get("region_name"),
            "interface": member.get("interface", "public"),
            "compute_microversion": os.environ.get("ATRIUM_TEST_OPENSTACK_COMPUTE_MICROVERSION", ""),
        },
        credentials={},
    )
    if os.environ.get("ATRIUM_TEST_OPENSTACK_AUTH", "application_credential") == "password":
        # The member's own password, scoped to the project by Tenancy.project_id.
        secrets = {k: v for k, v in member["auth"].items() if k in ("username", "password", "user_domain_name")}
    else:
        secrets = {
            "application_credential_id": credential.id,
            "application_credential_secret": credential.secret,
        }
    tenancy = TenancyFactory(name="Contract OpenStack project", cloud=cloud, project_id=project_id, credentials=secrets)
    driver = driver_for_tenancy(tenancy)
    images = [image for image in driver.images() if image.status == "ACTIVE"]
    image = next((i for i in images if "cirros" in i.name.lower()), images[0])
    fitting = [s for s in driver.sizes() if s.disk_gb >= image.min_disk_gb and s.ram_mb >= image.min_ram_mb]
    size = min(fitting, key=lambda s: (s.cpus, s.ram_mb, s.disk_gb))

    admin_conn = password_connection(admin)
    original = admin_conn.compute.get_quota_set(project_id).instances

    def set_machine_quota(count: int) -> None:
        admin_conn.compute.update_quota_set(project_id, instances=count)

    under_test = CloudUnderTest(
        driver=driver,
        tenancy=tenancy,
        image_id=image.id,
        size_id=size.id,
        set_machine_quota=set_machine_quota,
        wait_seconds=120,
        # Holding the cloud = pausing its hypervisors.
        hold=rig_pause(rig_run_dir(clouds_yaml), "nova-compute*"),
    )
    # Cleanups run last-first: the credential goes after everything the scenario made.
    under_test.cleanups.append(lambda: identity.delete_application_credential(user_id, credential.id))
    under_test.cleanups.append(lambda: set_machine_quota(original))
    return under_test


def rig_pause(run_dir: Path, services: str) -> Callable[[], AbstractContextManager[None]] | None:
    """Pause the rig's `services` (a glob of up.sh's PID file names; each service is a process group
    of its own, as up.sh starts them with setsid) for the length of a `with` block: they take no
    request meanwhile (the kernel still accepts connections to them), then carry on where they
    were. None on a cloud that is not the rig."""
    pid_files = sorted(run_dir.glob(f"{services}.pid"))
    if not pid_files:
        return None

    @contextlib.contextmanager
    def pause() -> Iterator[None]:
        groups = [int(path.read_text().split()[0]) for path in pid_files]
        paused = []
        try:
            for group in groups:
                os.killpg(group, signal.SIGSTOP)
                paused.append(group)
            yield
        finally:
            for group in paused:
                os.killpg(group, signal.SIGCONT)

    return pause


def rig_run_dir(clouds_yaml: str) -> Path:
    """Where the rig keeps its services' PID files (up.sh writes clouds.yaml next to it)."""
    return Path(clouds_yaml).parent / "run"


def connections_waiting(port: int) -> int:
    """TCP connections to `port` on this host that the kernel has accepted (ESTABLISHED), e.g. a
    request waiting for a paused service."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as lines:
            for line in list(lines)[1:]:
                local, state = line.split()[1], line.split()[3]
                count += state == "01" and int(local.rsplit(":", 1)[1], 16) == port
    return count
