"""What a running job kind sees: its job, its target, and ways to report.

ctx.plan(["Create server", "Wait until active"])   # stages shown as pending
with ctx.stage("Create server"):                     # running → succeeded/failed
    ctx.log("Asked the cloud for a server")
    ctx.progress(40)
    ctx.check_cancelled()                            # raises JobCancelled if asked to stop
    ctx.run(["terraform", "apply"])                  # a subprocess, killed on cancel
ctx.sleep(2)                                         # waits, but wakes on cancel
if not ctx.done("Create server"): ...                # skip a stage an earlier run finished
raise JobWaits(...)                                  # give the worker back; run again later
"""

import contextlib
import logging
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import Model
from django.utils import timezone

from .events import job_changed_publish
from .models import Job, JobLogLine, JobStage

logger = logging.getLogger("apps.jobs.runner")


class JobCancelled(Exception):
    """Raised inside a job when someone asked to cancel it."""


class JobWaits(Exception):
    """Raised by a job waiting for the cloud (`apps.core.resources.jobs.wait`): the runner queues
    it again to run after `delay` seconds, holding its target, without spending an attempt. Run
    again, the kind skips the stages that succeeded (`JobContext.done`) and looks again."""

    def __init__(
        self,
        what: str,
        since: datetime,
        delay: float,
        progress: float | None = None,
        watch: dict[str, Any] | None = None,
    ):
        super().__init__(f"{what}: looking again in {delay:g} s")
        self.what, self.since, self.delay = what, since, delay
        # What the tenancy's watcher follows for it (apps.jobs.watch), if a watcher can.
        self.watch = watch
        # The job's progress meanwhile: recorded with the wait (one write a look).
        self.progress = None if progress is None else progress_value(progress)


def progress_value(percent: float) -> int:
    """A job's progress as stored: a whole percent."""
    return max(0, min(100, round(percent)))


class SubprocessFailed(Exception):
    def __init__(self, args: Sequence[str], returncode: int):
        super().__init__(f"{args[0]} exited with status {returncode}")
        self.returncode = returncode


class JobWatcher(threading.Thread):
    """Beside a running job: touches its heartbeat and notices cancellation."""

    def __init__(self, job_id: int, interval: float):
        super().__init__(name=f"job-{job_id}-watcher", daemon=True)
        self.job_id = job_id
        self.interval = interval
        self.cancelled = threading.Event()
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopping.wait(self.interval):
                try:
                    close_old_connections()
                    Job.objects.filter(pk=self.job_id, state=Job.State.RUNNING).update(heartbeat_at=timezone.now())
                    if Job.objects.filter(pk=self.job_id, cancel_requested=True).exists():
                        self.cancelled.set()
                except Exception:
                    logger.warning("Job %s watcher could not reach the database", self.job_id, exc_info=True)
        finally:
            connection.close()


class JobContext:
    def __init__(self, job: Job, watcher: JobWatcher):
        self.job = job
        self._watcher = watcher
        self._current_stage: JobStage | None = None
        # The job's stages, read once per run (only this run changes them meanwhile): a look at
        # the cloud (`JobWaits`) runs the kind again, and its plan and `done`s then cost no query.
        self._stages: list[JobStage] | None = None
        # The stage an error left (for the job's error message).
        self.failed_stage: JobStage | None = None

    # --- the object ----------------------------------------------------------
    def target(self) -> Model:
        """The job's target object, read fresh from the database (its tenancy, the job's own, is
        not read again)."""
        model = self.job.target_type.model_class()
        assert model is not None  # noqa: S101 - a content type of an installed model
        obj = model._default_manager.get(pk=self.job.target_id)
        if getattr(obj, "tenancy_id", None) == self.job.tenancy_id:
            model._meta.get_field("tenancy").set_cached_value(obj, self.job.tenancy)  # type: ignore[union-attr]
        return obj

    @property
    def attempt(self) -> int:
        return self.job.attempts

    # --- reporting -------------------------------------------------------------
    def _touch(self) -> None:
        Job.objects.filter(pk=self.job.pk).update(updated_at=timezone.now(), heartbeat_at=timezone.now())
        job_changed_publish(tenancy_id=self.job.tenancy_id, job_id=self.job.pk)

    @property
    def stages(self) -> list[JobStage]:
        """The job's stages in order (read once a run)."""
        if self._stages is None:
            self._stages = list(JobStage.objects.filter(job=self.job).order_by("position"))
        return self._stages

    def _stage_get(self, name: str) -> JobStage | None:
        return next((stage for stage in self.stages if stage.name == name), None)

    def _stage_add(self, name: str) -> JobStage:
        stage = JobStage.objects.create(job=self.job, position=len(self.stages), name=name)
        self.stages.append(stage)
        return stage

    def plan(self, names: Sequence[str]) -> None:
        """Declare the stages up front, so the page shows what is still to come (a run after the
        first, which planned them, changes nothing)."""
        added = [self._stage_add(name) for name in names if self._stage_get(name) is None]
        if added:
            self._touch()

    def done(self, name: str) -> bool:
        """Whether the stage `name` succeeded in an earlier run of this job (before a wait for the
        cloud, a retry or a resume): a kind that can run again skips it."""
        stage = self._stage_get(name)
        return stage is not None and stage.state == JobStage.State.SUCCEEDED

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[JobStage]:
        self.check_cancelled()
        stage = self._stage_get(name) or self._stage_add(name)
        # Still running: the job waited for the cloud in it and comes back (it keeps its start).
        if stage.state != JobStage.State.RUNNING:
            stage.state = JobStage.State.RUNNING
            stage.started_at, stage.finished_at = timezone.now(), None
            stage.save(update_fields=["state", "started_at", "finished_at"])
            self.log(f"Stage: {name}")
        self._current_stage = stage
        try:
            yield stage
        except JobWaits:
            raise  # the stage goes on when the job comes back
        except JobCancelled:
            self._finish_stage(stage, JobStage.State.CANCELLED)
            raise
        except BaseException:
            self.failed_stage = stage
            self._finish_stage(stage, JobStage.State.FAILED)
            raise
        else:
            self._finish_stage(stage, JobStage.State.SUCCEEDED)
        finally:
            self._current_stage = None

    def _finish_stage(self, stage: JobStage, state: str) -> None:
        stage.state = state
        stage.finished_at = timezone.now()
        stage.save(update_fields=["state", "finished_at"])
        self._touch()

    @property
    def current_stage(self) -> JobStage | None:
        return self._current_stage

    def log(self, message: str, *, level: str = JobLogLine.Level.INFO) -> None:
        self.log_many([message], level=level)

    def log_many(self, messages: Sequence[str], *, level: str = JobLogLine.Level.INFO) -> None:
        if not messages:
            return
        now = timezone.now()
        JobLogLine.objects.bulk_create([JobLogLine(job=self.job, at=now, level=level, message=m) for m in messages])
        self._touch()

    def progress(self, percent: float) -> None:
        value = progress_value(percent)
        if value == self.job.progress:
            return  # nothing to show
        now = timezone.now()
        Job.objects.filter(pk=self.job.pk).update(progress=value, updated_at=now, heartbeat_at=now)
        self.job.progress = value
        job_changed_publish(tenancy_id=self.job.tenancy_id, job_id=self.job.pk)

    # --- cancellation ----------------------------------------------------------
    @property
    def cancel_requested(self) -> bool:
        return self._watcher.cancelled.is_set()

    def check_cancelled(self) -> None:
        if self._watcher.cancelled.is_set():
            raise JobCancelled("Cancelled on request.")

    def sleep(self, seconds: float) -> None:
        """Wait, but stop at once (JobCancelled) if the job is cancelled meanwhile."""
        if self._watcher.cancelled.wait(seconds):
            raise JobCancelled("Cancelled on request.")

    def run(
        self,
        args: Sequence[str],
        *,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float | None = None,
        check: bool = True,
    ) -> int:
        """Run a command in its own process group, its output going to the job log.

        On cancellation (or timeout) the whole group gets SIGTERM, then SIGKILL
        after ATRIUM_JOB_KILL_GRACE seconds, and JobCancelled is raised.
        Returns the exit status (raises SubprocessFailed on non-zero if `check`).
        """
        self.log(f"$ {' '.join(args)}")
        process = subprocess.Popen(  # noqa: S603 - job kinds pass fixed argument lists
            list(args),
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: we can stop all it starts
        )
        assert process.stdout is not None  # noqa: S101
        os.set_blocking(process.stdout.fileno(), False)
        deadline = None if timeout is None else time.monotonic() + timeout
        pending = b""
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ)
        try:
            while True:
                lines: list[str] = []
                for _ in selector.select(timeout=0.2):
                    chunk = process.stdout.read() or b""
                    pending += chunk
                    *complete, pending = pending.split(b"\n")
                    lines.extend(line.decode(errors="replace") for line in complete)
                self.log_many(lines)
                if process.poll() is not None:
                    rest = (pending + (process.stdout.read() or b"")).decode(errors="replace")
                    self.log_many([line for line in rest.split("\n") if line])
                    break
                if self._watcher.cancelled.is_set():
                    self.log("Stopping the command (cancelled).", level=JobLogLine.Level.WARNING)
                    self._stop(process)
                    raise JobCancelled("Cancelled on request.")
                if deadline is not None and time.monotonic() > deadline:
                    self._stop(process)
                    raise TimeoutError(f"{args[0]} did not finish within {timeout} s")
        finally:
            selector.close()
            process.stdout.close()
        self.log(f"{args[0]} exited with status {process.returncode}")
        if check and process.returncode:
            raise SubprocessFailed(args, process.returncode)
        return process.returncode

    @staticmethod
    def _stop(process: "subprocess.Popen[bytes]") -> None:
        for sig, wait in ((signal.SIGTERM, settings.ATRIUM_JOB_KILL_GRACE), (signal.SIGKILL, 10.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue
