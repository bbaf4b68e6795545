"""Job kinds the tests run, registered through ATRIUM_JOB_MODULES (the test
settings set it; worker subprocesses get it in their environment). They call
nothing but the job context: what they exercise is the jobs machinery."""

import os
import sys
import time
from pathlib import Path
from typing import Any

from apps.jobs.context import JobContext
from apps.jobs.registry import job_kind


class FlakyCloudError(Exception):
    """Stands for the drivers' Communication/Timeout errors: safe to retry."""

    retryable = True


class BrokenInputError(Exception):
    """Not safe to retry."""


@job_kind("test.steps", label="Three steps", max_attempts=3, retry_backoff=0.2)
def steps(ctx: JobContext) -> dict[str, Any]:
    """Three stages; `fail_at` names one to fail in (`fail_before`: fail before the first);
    `pause` sleeps in each."""
    params = ctx.job.params
    if params.get("fail_before"):
        raise BrokenInputError("the cloud is not configured")
    names = ["Prepare", "Build", "Check"]
    ctx.plan(names)
    for index, name in enumerate(names):
        with ctx.stage(name):
            ctx.log(f"{name}: working")
            if params.get("marker"):
                with Path(params["marker"]).open("a") as out:
                    out.write(f"{ctx.job.pk}:{name}:start\n")
            ctx.sleep(params.get("pause", 0))
            if params.get("fail_at") == name:
                raise BrokenInputError(f"{name} went wrong: the image is unusable")
            if params.get("flaky_until", 0) >= ctx.attempt and name == "Build":
                raise FlakyCloudError("the cloud did not answer")
            if params.get("marker"):
                with Path(params["marker"]).open("a") as out:
                    out.write(f"{ctx.job.pk}:{name}:end\n")
            ctx.progress(100 * (index + 1) / len(names))
    return {"built": True, "attempt": ctx.attempt}


def _slow(ctx: JobContext) -> str:
    seconds = ctx.job.params.get("seconds", 30)
    with ctx.stage("Wait"):
        ctx.log(f"pid {os.getpid()} waiting {seconds} s")
        if ctx.attempt > 1 or not ctx.job.params.get("hang_first"):
            return "waited briefly"
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ctx.sleep(0.2)
    return "waited"


job_kind("test.slow", label="Slow", max_attempts=2)(_slow)
job_kind("test.slow_resumable", label="Slow, resumable", max_attempts=2, resumable=True)(_slow)


@job_kind("test.subprocess", label="Subprocess", max_attempts=1)
def run_subprocess(ctx: JobContext) -> int:
    """A shell that starts a long sleep (a grandchild) and waits for it."""
    pidfile = ctx.job.params["pidfile"]
    script = f"sleep 300 & echo $! > {pidfile}; echo started; wait"
    with ctx.stage("Run"):
        return ctx.run(["/bin/sh", "-c", script])


@job_kind("test.python", label="Python subprocess", max_attempts=1)
def python_output(ctx: JobContext) -> int:
    with ctx.stage("Run"):
        return ctx.run([sys.executable, "-c", "print('hello'); print('from a subprocess')"])


def _settle_recorded(job: Any, target: Any, ran: bool) -> str | None:
    """Says in the job's log what the jobs layer told it; asks for the follow-up in `follow`."""
    from apps.jobs.services import job_log

    if job.params.get("settle_fails"):
        raise RuntimeError("settling went wrong")
    job_log(job=job, message=f"settle: ran={ran} target={target} state={job.state}")
    return job.params.get("follow")


job_kind("test.settled", label="Three steps, settled", max_attempts=1, settle=_settle_recorded)(steps)
