"""The one task the task backends carry: "run job N". Everything else about a
job lives in its row (apps.jobs.models.Job)."""

from django_tasks import default_task_backend, task

from .runner import job_run


@task()
def run_job(job_id: int) -> str:
    # A job waiting for the cloud is queued again for its next look, where the backend can run a
    # task later (not the `immediate` one: there it looks again in the request that ran it).
    return job_run(job_id, requeue_waits=default_task_backend.supports_defer)
