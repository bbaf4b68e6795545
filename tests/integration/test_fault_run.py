"""The fault run: real `manage.py worker` processes on the test database and the local
cloud (its build and action times make jobs last a few seconds), hurt on purpose.

- a worker killed with SIGKILL in the middle of a create and of a stop: another worker
  recovers, and each machine ends with its actions back, nothing lost, nothing leaked;
- a create cancelled while queued and at each of its stages: the row ends usable (or gone);
- PostgreSQL and Redis restarted under a running job (private instances, test_fault_restarts.py).

After each, `assert_settled` checks what a person would: no job still active, no row busy or
stuck between states, every row with its actions, every server on the cloud with its row
and every row with its server, and quotas counting only what exists.
"""

import contextlib

import pytest

from apps.catalogue.selectors import catalogue_get
from apps.clouds.local.seed import local_cloud_seed
from apps.clouds.local.services import local_fault_inject
from apps.clouds.models import LocalExternalIp, LocalMachine
from apps.core.errors import Conflict
from apps.jobs.models import Job, JobStage
from apps.jobs.services import job_cancel
from apps.machines import services
from apps.machines.models import Machine
from apps.tenancies.models import Tenancy
from tests.factories import CloudFactory
from tests.faults import assert_settled, job_of, kill, log_text, quiet
from tests.workers import start_worker, wait_for, workers

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PROJECT = "physics-project"
# Jobs look at the cloud often, so a settled machine is seen at once.
FAST = {"ATRIUM_MACHINE_POLL_INTERVAL": "0.2"}


@pytest.fixture
def cloud(db):
    cloud = CloudFactory(name="Fault cloud", options={"build_seconds": 3, "action_seconds": 3})
    local_cloud_seed(cloud, projects=[PROJECT])
    return cloud


@pytest.fixture
def tenancy(cloud):
    return Tenancy.objects.create(name="Physics", cloud=cloud, project_id=PROJECT)


@pytest.fixture
def member(tenancy):
    from apps.tenancies.models import Membership
    from tests.factories import MembershipFactory, UserFactory

    user = UserFactory(username="physicist")
    MembershipFactory(user=user, tenancy=tenancy, role=Membership.Role.MEMBER)
    return user


def waits(job: Job) -> bool:
    """The job waits for the cloud (queued for its next look, or taking one)."""
    return Job.objects.filter(pk=job.pk, next_look_at__isnull=False).exists()


def new_machine(tenancy, member, name: str, **kwargs) -> Machine:
    catalogue = catalogue_get(tenancy=tenancy)
    image = next(i["id"] for i in catalogue.images if i["name"] == "Ubuntu 24.04 LTS")
    size = next(s["id"] for s in catalogue.sizes if s["name"] == "small")
    return services.machine_create(tenancy=tenancy, user=member, name=name, image_id=image, size_id=size, **kwargs).row


def test_a_worker_killed_mid_create_and_mid_stop_is_recovered_by_another(tmp_path, tenancy, member):
    # Mid-create: the cloud has accepted the server, the job waits for it to be active (a row with
    # its next look, queued between looks or taking one: either way no attempt is spent on it).
    doomed = start_worker(tmp_path, "doomed-create", **FAST)
    try:
        machine = new_machine(tenancy, member, "built")
        create = job_of(machine, "machines.create")
        wait_for(lambda: waits(create), "the server to be requested", logs=tmp_path)
    finally:
        kill(doomed)
    # Mid-stop: the cloud is stopping the server, the job waits for it.
    with workers(tmp_path, env=FAST):
        wait_for(lambda: Machine.objects.get(pk=machine.pk).status == "ACTIVE", "the create to resume", logs=tmp_path)
        wait_for(lambda: quiet(tenancy), "the create to end", logs=tmp_path)
    create.refresh_from_db()
    machine.refresh_from_db()
    assert (create.state, create.attempts) == (Job.State.SUCCEEDED, 1), log_text(create)
    assert LocalMachine.objects.filter(cloud=tenancy.cloud).count() == 1  # the second attempt made no second server

    doomed = start_worker(tmp_path, "doomed-stop", **FAST)
    try:
        stop_job = services.machine_action(machine=machine, user=member, action="stop")
        server = LocalMachine.objects.filter(uid=machine.cloud_id)
        wait_for(lambda: server.filter(status="STOPPING").exists(), "the cloud to be stopping it", logs=tmp_path)
        wait_for(lambda: waits(stop_job), "the stop to wait for the cloud", logs=tmp_path)
    finally:
        kill(doomed)
    assert Machine.objects.get(pk=machine.pk).task == "stopping"
    # No periodic sync runs here (ATRIUM_SYNC_INTERVAL=0): another worker looks on (the stop is
    # not asked for again) and gives the row back when the cloud has stopped it.
    with workers(tmp_path, env=FAST):
        wait_for(lambda: Job.objects.get(pk=stop_job.pk).state == Job.State.SUCCEEDED, "the stop", logs=tmp_path)
        assert_settled(tenancy, tmp_path)
    machine.refresh_from_db()
    assert machine.status == "STOPPED"
    assert services.machine_actions(machine) == ["start", "delete"]
    stop_job.refresh_from_db()
    assert stop_job.attempts == 1  # the stop was asked for once
    assert not Job.objects.filter(kind="machines.observe", target_id=str(machine.pk)).exists()  # none needed


# (the stage to cancel at, a fault that makes the job wait there to try again, or None)
CREATE_CANCELS = [
    ("Create server", "machine_create"),  # waiting to retry: the cloud did not answer the create
    ("Wait until active", None),  # the cloud is building it
    ("Read its firewall", None),
    ("Attach an external IP", None),
    ("Attach an external IP", "external_ip_allocate"),  # waiting to retry, the server built
]


def test_a_create_cancelled_while_queued_or_at_any_stage_leaves_a_usable_row(tmp_path, cloud, tenancy, member):
    # Queued: no worker runs yet.
    queued = new_machine(tenancy, member, "queued")
    job_cancel(job=job_of(queued, "machines.create"), user=member)
    assert not Machine.objects.filter(pk=queued.pk).exists()
    assert_settled(tenancy, tmp_path)

    ended = []
    with workers(tmp_path, env=FAST):
        for index, (stage, fault) in enumerate(CREATE_CANCELS):
            if fault:
                local_fault_inject(cloud=cloud, operation=fault, kind="unreachable", times=1)
            machine = new_machine(tenancy, member, f"at-{index}", external_ip=True)
            job = job_of(machine, "machines.create")
            at_stage = JobStage.objects.filter(job=job, name=stage).exclude(state="pending")
            if fault:  # failed there once, queued to try again
                at_stage = at_stage.filter(job__state="queued", job__attempts=1)
            wait_for(at_stage.exists, f"the stage {stage!r}", logs=tmp_path)
            with contextlib.suppress(Conflict):  # a fast stage may have let the job end already
                job_cancel(job=job, user=member)
            assert_settled(tenancy, tmp_path)
            job.refresh_from_db()
            ended.append((stage, job.state))
        # Whatever the cancels left in error is deleted, leaving nothing on the cloud.
        for machine in Machine.objects.filter(tenancy=tenancy):
            services.machine_delete(machine=machine, user=member)
        assert_settled(tenancy, tmp_path)
    assert not Machine.objects.filter(tenancy=tenancy).exists()
    assert not LocalMachine.objects.filter(cloud=cloud).exists()
    assert not LocalExternalIp.objects.filter(cloud=cloud).exists()
    # Those that waited (to build, to try again) were cancelled, not finished.
    assert [ended[i] for i in (0, 1, 4)] == [
        ("Create server", "cancelled"),
        ("Wait until active", "cancelled"),
        ("Attach an external IP", "cancelled"),
    ]
