"""A tenancy sync hook that takes a few seconds, so a browser can watch a job
change live. Loaded into the portal under test through ATRIUM_JOB_MODULES."""

from apps.jobs.context import JobContext
from apps.jobs.sync import register_tenancy_sync
from apps.tenancies.models import Tenancy


@register_tenancy_sync("Count the stars")
def count_the_stars(ctx: JobContext, tenancy: Tenancy) -> None:
    for step in range(1, 6):
        ctx.sleep(0.7)
        ctx.log(f"Counted {step} of 5 in {tenancy.name}")
        ctx.progress(step * 20)
