"""The fault run on every cloud of the contract suite (the local cloud always; the real
OpenStack services of tests/openstack/up.sh in `make test-openstack`): real `manage.py
worker` processes on the test database, hurt on purpose while the cloud is held mid-change
(`cut.hold()`: on the rig, its nova-compute paused, so a server really stays BUILD or
STOPPING on Nova while the job waits for it).

- a worker killed with SIGKILL while its create waits for the build (a job waiting for the
  cloud is a row with its next look, queued between looks): another worker looks on, spending
  no attempt, the machine ends ACTIVE with its actions, and the cloud holds exactly one server
  made for that row;
- on the rig, a worker killed while Nova is still making its server (Nova held there by pausing
  Glance, which it asks about the image): the server is made after all, the job's answer is
  lost, and the worker that takes the job up finds that server by its tag instead of making a
  second one; and with Nova still held when it does, so that it asks for a second server, the
  resumed create deletes the first once its own is built;
- a worker killed while its stop waits for the cloud: another worker looks on (the stop is not
  asked for again) and the row gets its actions back when the cloud has stopped, with no
  periodic sync;
- a create cancelled while queued (the cloud is never asked) and one cancelled while it waits
  for the build: the row is gone or usable, and once deleted nothing is left on the cloud.

Each ends with `assert_settled` (tests/faults.py): no job active, no row busy, every server of
the project with its row and every row with its server. What the project held on the cloud
before the scenario is not its own; whatever the scenario made is deleted after it however it
ends (the `cut` cleanups).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest

from apps.clouds import dto
from apps.jobs.models import Job, JobStage
from apps.jobs.services import SYNC_KIND, job_cancel
from apps.machines import services
from apps.machines.jobs import ATRIUM_MACHINE_KEY
from apps.machines.models import Machine
from tests.contract.conftest import CLOUDS_YAML, CloudUnderTest
from tests.factories import UserFactory
from tests.faults import assert_settled, job_of, kill, log_text, quiet
from tests.workers import start_worker, stop, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

#: A bound for each wait (workers starting, a recovery, a real cloud building), not a speed check.
TIMEOUT = 90
GLANCE_PORT = 9292  # the rig's (tests/openstack/up.sh)


@pytest.fixture
def held(cut: CloudUnderTest) -> tuple[CloudUnderTest, frozenset[str]]:
    """The cloud under test, one it can hold, and what its project had before the scenario."""
    if cut.hold is None:
        pytest.skip("the fault run holds the cloud mid-change: only the local cloud and the rig can be held")
    before = frozenset(m.id for m in cut.driver.machines())
    if cut.driver.capabilities().external_ips:
        before |= {ip.id for ip in cut.driver.external_ips()}

    def remove_what_it_made() -> None:
        for server in cut.driver.machines():
            if server.id not in before:
                cut._delete_quietly(server.id)

    cut.cleanups.append(remove_what_it_made)
    return cut, before


@pytest.fixture
def scientist(cut: CloudUnderTest):
    user = UserFactory(username="fault-scientist")
    cut.tenancy.memberships.create(user=user)
    return user


def worker_env(cut: CloudUnderTest) -> dict[str, str]:
    # Jobs look at the cloud often, so a settled machine is seen at once (a real cloud a bit less often).
    return {"ATRIUM_MACHINE_POLL_INTERVAL": "0.2" if cut.wait_seconds <= 10 else "0.5"}


def new_machine(cut: CloudUnderTest, user, name: str) -> Machine:
    return services.machine_create(
        tenancy=cut.tenancy, user=user, name=name, image_id=cut.image_id, size_id=cut.size_id
    ).row


def waiting_in(job: Job, stage: str):
    """The job waits for the cloud in `stage` (between looks, or taking one)."""
    return JobStage.objects.filter(job=job, name=stage, state=JobStage.State.RUNNING, job__next_look_at__isnull=False)


def looked_at_by(job: Job, worker: str):
    """The job waiting for the cloud has been looked at by `worker` (a look holds no attempt)."""
    return Job.objects.filter(pk=job.pk, worker_id__startswith=f"{worker}-")


def servers_made_for(cut: CloudUnderTest, machine: Machine) -> list[dto.Machine]:
    """The servers on the cloud tagged with the row's id (as machines.create tags them)."""
    return [m for m in cut.driver.machines() if m.metadata.get(ATRIUM_MACHINE_KEY) == str(machine.pk)]


def test_a_worker_killed_mid_create_and_mid_stop_is_recovered_by_another(tmp_path, held, scientist):
    cut, before = held
    tenancy = cut.tenancy
    env = worker_env(cut)
    rescuers: list[subprocess.Popen[bytes]] = []
    try:
        # Mid-create: the cloud has the server (BUILD), the job waits for it to be active.
        with cut.hold():
            doomed = start_worker(tmp_path, "doomed-create", **env)
            try:
                machine = new_machine(cut, scientist, "fault-built")
                create = job_of(machine, "machines.create")
                wait_for(waiting_in(create, "Wait until active").exists, "the build", TIMEOUT, tmp_path)
            finally:
                kill(doomed)
            machine.refresh_from_db()
            assert (machine.status, machine.task) == ("BUILD", "building")
            assert machine.cloud_id
            # A job waiting for the cloud is a row with its next look: another worker looks on.
            rescuers.append(start_worker(tmp_path, "rescuer-create", **env))
            wait_for(looked_at_by(create, "rescuer-create").exists, "another worker to look", TIMEOUT, tmp_path)
        # The cloud finishes the build; the resumed job sees it.
        wait_for(lambda: quiet(tenancy), "the create to end", TIMEOUT, tmp_path)
        create.refresh_from_db()
        machine.refresh_from_db()
        assert (create.state, create.attempts) == (Job.State.SUCCEEDED, 1), create.error
        assert (machine.status, machine.task) == ("ACTIVE", "")
        assert services.machine_actions(machine) == ["stop", "restart", "delete"]
        assert [m.id for m in servers_made_for(cut, machine)] == [machine.cloud_id]  # no second server
        assert_settled(tenancy, tmp_path, TIMEOUT, others=before)
        stop(rescuers.pop())  # the next job must go to the worker that will die

        # Mid-stop: the cloud is stopping the server, the job waits for it.
        with cut.hold():
            doomed = start_worker(tmp_path, "doomed-stop", **env)
            try:
                stop_job = services.machine_action(machine=machine, user=scientist, action="stop")
                wait_for(waiting_in(stop_job, "Wait until it has finished").exists, "the stop", TIMEOUT, tmp_path)
            finally:
                kill(doomed)
            machine.refresh_from_db()
            assert (machine.status, machine.task) == ("STOPPING", "stopping")
            # Another worker looks on (the stop was asked for once: a look only reads).
            rescuers.append(start_worker(tmp_path, "rescuer-stop", **env))
            wait_for(looked_at_by(stop_job, "rescuer-stop").exists, "another worker to look", TIMEOUT, tmp_path)
            machine.refresh_from_db()
            assert (machine.status, machine.task, services.machine_actions(machine)) == ("STOPPING", "stopping", [])
        # The cloud has stopped it: the row gets its actions back, with no periodic sync (none runs here).
        assert_settled(tenancy, tmp_path, TIMEOUT, others=before)
        machine.refresh_from_db()
        assert machine.status == "STOPPED"
        assert services.machine_actions(machine) == ["start", "delete"]
        assert cut.driver.machine_get(machine_id=machine.cloud_id).status == dto.MachineStatus.STOPPED
        stop_job.refresh_from_db()
        assert (stop_job.state, stop_job.attempts) == (Job.State.SUCCEEDED, 1)
        assert not Job.objects.filter(kind="machines.observe", target_id=str(machine.pk)).exists()
        assert not Job.objects.filter(kind=SYNC_KIND).exists()

        services.machine_delete(machine=machine, user=scientist)
        assert_settled(tenancy, tmp_path, TIMEOUT, others=before)
        assert not Machine.objects.filter(tenancy=tenancy).exists()
        assert servers_made_for(cut, machine) == []
    finally:
        for worker in rescuers:
            stop(worker)


@pytest.fixture
def pause_images(held) -> Callable[[], AbstractContextManager[None]]:
    """Pausing the rig's Glance: Nova, which asks it about the image, is held inside POST /servers."""
    cut, _ = held
    if cut.driver.name != "openstack":
        pytest.skip("the local cloud makes a server within the worker's own call: none can be left half-asked")
    from tests.contract.openstack_rig import rig_pause, rig_run_dir

    pause = rig_pause(rig_run_dir(CLOUDS_YAML), "glance")
    if pause is None:
        pytest.skip("holding Nova in the middle of a create needs the rig (tests/openstack/up.sh)")
    return pause


def nova_waits_on_glance(requests: int) -> Callable[[], bool]:
    """Whether Nova has `requests` creates in hand, each waiting for the paused Glance."""
    from tests.contract.openstack_rig import connections_waiting

    return lambda: connections_waiting(GLANCE_PORT) >= requests


def kill_while_nova_makes_it(tmp_path, env: dict[str, str]) -> None:
    """A worker takes the queued create and is killed once Nova has its request (and waits for
    the paused Glance to describe the image): the server will be made, its id heard by no one."""
    doomed = start_worker(tmp_path, "doomed-create", **env)
    try:
        wait_for(nova_waits_on_glance(1), "Nova to ask Glance", TIMEOUT, tmp_path)
    finally:
        kill(doomed)


def test_a_worker_killed_while_the_cloud_makes_its_server_leaves_one_server(tmp_path, held, pause_images, scientist):
    cut, before = held
    tenancy = cut.tenancy
    env = worker_env(cut)
    machine = new_machine(cut, scientist, "fault-unanswered")  # queued: no worker runs yet
    create = job_of(machine, "machines.create")
    with pause_images():
        kill_while_nova_makes_it(tmp_path, env)
    # Nova carries on and makes the server; nobody is there to hear its id.
    made = wait_for(lambda: servers_made_for(cut, machine), "the server Nova makes", TIMEOUT, tmp_path)
    machine.refresh_from_db()
    assert (machine.cloud_id, machine.task) == ("", "building")
    rescuer = start_worker(tmp_path, "rescuer-create", **env)
    try:
        wait_for(lambda: quiet(tenancy), "the create to end", TIMEOUT, tmp_path)
        create.refresh_from_db()
        machine.refresh_from_db()
        # Killed in its create stage (not in a look), the create runs again: a second attempt.
        assert (create.state, create.attempts) == (Job.State.SUCCEEDED, 2), create.error
        assert [m.id for m in servers_made_for(cut, machine)] == [made[0].id]  # no second server
        assert (machine.cloud_id, machine.status) == (made[0].id, "ACTIVE")
        assert f"Found the server an earlier attempt created ({made[0].id})." in log_text(create)
        assert_settled(tenancy, tmp_path, TIMEOUT, others=before)

        services.machine_delete(machine=machine, user=scientist)
        assert_settled(tenancy, tmp_path, TIMEOUT, others=before)
    finally:
        stop(rescuer)
    assert servers_made_for(cut, machine) == []


def test_a_create_resumed_while_the_cloud_still_makes_the_first_server_keeps_one(
    tmp_path, held, pause_images, scientist
):
    """The worker dies while Nova is making its server, and Nova takes longer than the recovery:
    the resumed create finds no server by its tag yet and asks for another. Both get made;
    the machine must end with one, and the project hold no second server made for it."""
    cut, before = held
    tenancy = cut.tenancy
    env = worker_env(cut)
    machine = new_machine(cut, scientist, "fault-slow-cloud")  # queued: no worker runs yet
    create = job_of(machine, "machines.create")
    rescuer = None
    try:
        with cut.hold():
            with pause_images():
                kill_while_nova_makes_it(tmp_path, env)
                rescuer = start_worker(tmp_path, "rescuer-create", **env)
                wait_for(nova_waits_on_glance(2), "the resumed create to ask Nova again", TIMEOUT, tmp_path)
            # Nova makes both servers (its hypervisors, held, build neither yet).
            wait_for(lambda: len(servers_made_for(cut, machine)) == 2, "the two servers", TIMEOUT, tmp_path)
        wait_for(lambda: quiet(tenancy), "the create to end", TIMEOUT, tmp_path)
        create.refresh_from_db()
        machine.refresh_from_db()
        assert (create.state, create.attempts, machine.status) == (Job.State.SUCCEEDED, 2, "ACTIVE"), create.error
        assert_settled(tenancy, tmp_path, TIMEOUT, others=before)
        assert [m.id for m in servers_made_for(cut, machine)] == [machine.cloud_id]
        assert "Deleted the server" in log_text(create)  # the resumed create did, not a cleanup

        services.machine_delete(machine=machine, user=scientist)
        assert_settled(tenancy, tmp_path, TIMEOUT, others=before)
    finally:
        if rescuer is not None:
            stop(rescuer)
    assert servers_made_for(cut, machine) == []


def test_a_create_cancelled_while_queued_or_building_leaves_nothing_behind(tmp_path, held, scientist):
    cut, before = held
    tenancy = cut.tenancy
    # Queued: no worker runs, so the cloud is never asked; the row goes with its job.
    queued = new_machine(cut, scientist, "fault-queued")
    job_cancel(job=job_of(queued, "machines.create"), user=scientist)
    assert not Machine.objects.filter(pk=queued.pk).exists()
    assert_settled(tenancy, tmp_path, TIMEOUT, others=before)

    worker = start_worker(tmp_path, "worker", **worker_env(cut))
    try:
        # Building: the cloud has the server; the cancelled job stops waiting, a follow-up job
        # watches the build it can no longer stop, and the row is deletable once built.
        with cut.hold():
            machine = new_machine(cut, scientist, "fault-cancelled")
            create = job_of(machine, "machines.create")
            wait_for(waiting_in(create, "Wait until active").exists, "the build", TIMEOUT, tmp_path)
            job_cancel(job=create, user=scientist)
            wait_for(lambda: Job.objects.get(pk=create.pk).state == Job.State.CANCELLED, "the cancel", TIMEOUT)
            machine.refresh_from_db()
            assert (machine.status, machine.task) == ("BUILD", "")
            assert Job.objects.filter(kind="machines.observe", target_id=str(machine.pk)).exists()
        assert_settled(tenancy, tmp_path, TIMEOUT, others=before)
        machine.refresh_from_db()
        assert machine.status == "ACTIVE"
        assert "delete" in services.machine_actions(machine)
        assert [m.id for m in servers_made_for(cut, machine)] == [machine.cloud_id]

        services.machine_delete(machine=machine, user=scientist)
        assert_settled(tenancy, tmp_path, TIMEOUT, others=before)
    finally:
        stop(worker)
    assert not Machine.objects.filter(tenancy=tenancy).exists()
    assert servers_made_for(cut, queued) == []
    assert servers_made_for(cut, machine) == []
