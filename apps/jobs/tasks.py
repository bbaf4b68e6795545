"""The tasks the task backends carry: "run job N" (everything else about a job lives in its row,
apps.jobs.models.Job) and "a round of cloud watcher N" (apps.jobs.watch)."""

from django_tasks import default_task_backend, task

from .runner import job_run
from .watch import watch_round


@task()
def run_job(job_id: int) -> str:
    # A job waiting for the cloud is queued again for its next look, where the backend can run a
    # task later (not the `immediate` one: there it looks again in the request that ran it).
    return job_run(job_id, requeue_waits=default_task_backend.supports_defer)


@task()
def watch_cloud(watch_id: int) -> str:
    return watch_round(watch_id)
