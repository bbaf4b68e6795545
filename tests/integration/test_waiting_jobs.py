"""Jobs waiting for the cloud hold no worker: real `manage.py worker` processes on the test
database and the local cloud, whose builds take a few seconds.

- with ONE worker, several machines build at once (each create job gives the worker back
  between its looks at the cloud), and a waiting job's progress moves between looks;
- cancelling a waiting job ends it at once, and its row is left usable as for a queued job;
- a worker killed while jobs wait loses none of them: a new worker finishes them, spending
  no attempt.
"""

import pytest
from django.utils import timezone

from apps.catalogue.selectors import catalogue_get
from apps.clouds.local.seed import local_cloud_seed
from apps.clouds.models import LocalMachine
from apps.jobs.models import Job
from apps.jobs.services import job_cancel
from apps.machines import services
from apps.machines.models import Machine
from apps.tenancies.models import Membership, Tenancy
from tests.factories import CloudFactory, MembershipFactory, UserFactory
from tests.faults import assert_settled, job_of, kill, log_text
from tests.workers import start_worker, wait_for, workers

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PROJECT = "physics-project"
# Look often (the first look after 0.2 s, then every 0.5 s at most), so the tests are quick.
LOOKS = {"ATRIUM_WAIT_FIRST_LOOK": "0.2", "ATRIUM_MACHINE_POLL_INTERVAL": "0.5"}


def tenancy_on(build_seconds: float) -> Tenancy:
    cloud = CloudFactory(name="Waiting cloud", options={"build_seconds": build_seconds, "action_seconds": 2})
    local_cloud_seed(cloud, projects=[PROJECT])
    return Tenancy.objects.create(name="Physics", cloud=cloud, project_id=PROJECT)


def member_of(tenancy: Tenancy):
    user = UserFactory(username="physicist")
    MembershipFactory(user=user, tenancy=tenancy, role=Membership.Role.MEMBER)
    return user


def new_machine(tenancy: Tenancy, member, name: str) -> Machine:
    catalogue = catalogue_get(tenancy=tenancy)
    image = next(i["id"] for i in catalogue.images if i["name"] == "Ubuntu 24.04 LTS")
    size = next(s["id"] for s in catalogue.sizes if s["name"] == "small")
    return services.machine_create(tenancy=tenancy, user=member, name=name, image_id=image, size_id=size).row


def waiting(job: Job) -> bool:
    job.refresh_from_db()
    return bool(job.waiting_for) and job.state == Job.State.QUEUED


def test_one_worker_builds_several_machines_at_once_and_their_progress_moves(tmp_path):
    tenancy = tenancy_on(build_seconds=6)
    member = member_of(tenancy)
    with workers(tmp_path, count=1, env=LOOKS):
        machines = [new_machine(tenancy, member, f"vm-{i}") for i in range(3)]
        jobs = [job_of(machine, "machines.create") for machine in machines]
        # Every server is asked for while the first is still building: the one worker was not held.
        servers = LocalMachine.objects.filter(cloud=tenancy.cloud)
        wait_for(lambda: servers.count() == 3, "the cloud to have all three servers", logs=tmp_path)
        assert not servers.filter(status="ACTIVE").exists()
        assert Machine.objects.filter(status="BUILD").count() == 3
        wait_for(lambda: all(waiting(job) for job in jobs), "all three jobs to wait at once", logs=tmp_path)
        # The first job's progress, read while it waits: it moves between looks.
        seen: list[int] = []

        def first_done() -> bool:
            first = Job.objects.get(pk=jobs[0].pk)
            seen.append(first.progress)
            return first.state == Job.State.SUCCEEDED

        wait_for(first_done, "the first build to succeed", logs=tmp_path)
        wait_for(
            lambda: all(Job.objects.get(pk=job.pk).state == Job.State.SUCCEEDED for job in jobs),
            "the three builds to succeed",
            logs=tmp_path,
        )
    during = [p for p in seen if 30 < p < 100]
    assert len(set(during)) >= 3, f"progress while building: {seen}"
    assert during == sorted(during)
    for job, machine in zip(jobs, machines, strict=True):
        job.refresh_from_db()
        machine.refresh_from_db()
        assert (machine.status, machine.task) == ("ACTIVE", "")
        assert job.attempts == 1  # a look is not an attempt
        assert job.progress == 100
        assert (job.waiting_for, job.next_look_at) == ("", None)
        assert "Waiting for the cloud: Building" in log_text(job)
        assert log_text(job).count("Attempt 1 of") == 1
        # Its stages ran once each, the wait as one stage from request to active.
        assert list(job.stages.values_list("name", "state")) == [
            ("Create server", "succeeded"),
            ("Wait until active", "succeeded"),
            ("Read its firewall", "succeeded"),
        ]
        assert log_text(job).count("Stage: Wait until active") == 1
        build = job.stages.get(name="Wait until active")
        assert build.finished_at
        assert build.started_at
        assert (build.finished_at - build.started_at).total_seconds() >= 4


def test_cancelling_a_waiting_job_ends_it_at_once_and_leaves_the_machine_usable(tmp_path):
    tenancy = tenancy_on(build_seconds=3)
    member = member_of(tenancy)
    with workers(tmp_path, count=1, env=LOOKS):
        machine = new_machine(tenancy, member, "cancelled")
        create = job_of(machine, "machines.create")
        wait_for(lambda: waiting(create), "the create to wait for the build", logs=tmp_path)
        job_cancel(job=create, user=member)
        # At once, with no worker involved: a waiting job is queued.
        assert create.state == Job.State.CANCELLED
        assert create.stages.get(name="Wait until active").state == "cancelled"
        machine.refresh_from_db()
        assert machine.task == ""
        # Its settle hook ran as for any job that reached the cloud: a follow-up watches the build.
        follow = job_of(machine, "machines.observe")
        wait_for(lambda: Job.objects.get(pk=follow.pk).state == Job.State.SUCCEEDED, "the follow-up", logs=tmp_path)
        assert_settled(tenancy, tmp_path)
    machine.refresh_from_db()
    assert machine.status == "ACTIVE"
    assert services.machine_actions(machine) == ["stop", "restart", "delete"]


def test_a_worker_killed_while_jobs_wait_loses_none_of_them(tmp_path):
    tenancy = tenancy_on(build_seconds=5)
    member = member_of(tenancy)
    doomed = start_worker(tmp_path, "doomed", **LOOKS)
    try:
        machines = [new_machine(tenancy, member, f"vm-{i}") for i in range(3)]
        jobs = [job_of(machine, "machines.create") for machine in machines]
        wait_for(lambda: all(waiting(job) for job in jobs), "all three jobs to wait", logs=tmp_path)
    finally:
        kill(doomed)
    killed_at = timezone.now()
    with workers(tmp_path, count=1, env=LOOKS):
        wait_for(
            lambda: all(Job.objects.get(pk=job.pk).state == Job.State.SUCCEEDED for job in jobs),
            "a new worker to finish every waiting job",
            logs=tmp_path,
        )
        assert_settled(tenancy, tmp_path)
    for job in jobs:
        job.refresh_from_db()
        assert job.attempts == 1, log_text(job)
        assert job.worker_id.startswith("worker0-")
        assert job.finished_at
        assert job.finished_at > killed_at
    assert LocalMachine.objects.filter(cloud=tenancy.cloud).count() == 3  # no server asked for twice
    assert set(Machine.objects.values_list("status", flat=True)) == {"ACTIVE"}
