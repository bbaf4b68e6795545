"""A sync hook that writes log lines at a steady pace, for bench_jobs.py."""

from apps.jobs.context import JobContext
from apps.jobs.sync import register_tenancy_sync
from apps.tenancies.models import Tenancy


@register_tenancy_sync("Bench lines")
def bench_lines(ctx: JobContext, tenancy: Tenancy) -> None:
    ctx.sleep(1.5)  # time for the benchmark's socket to connect
    for number in range(1, 61):
        ctx.log(f"Bench line {number}")
        ctx.sleep(0.1)
