"""The one task the task backends carry: "run job N". Everything else about a
job lives in its row (apps.jobs.models.Job)."""

from django_tasks import task

from .runner import job_run


@task()
def run_job(job_id: int) -> str:
    return job_run(job_id)
