"""The per-tenancy live channel: `/ws/tenancies/<id>/`.

A page connects with what it shows in the query string:

- a job page: `?job=<id>&log_after=<last log line id it rendered>`;
- a jobs list: `?jobs=<ids of its rows>[&new=1]` (`new`: also add rows for new jobs);
- other apps' rows and detail pages (apps.jobs.live): `?machines=<ids>[&new_machines=1]`,
  `?machine=<id>`.

Workers publish "job N changed" to the tenancy's group (apps.jobs.events).
For every such event the consumer checks again that the user is still a member
(it closes the socket if not), reads the job through the scoped selectors and
sends the page's own fragments (hx-swap-oob), so one user's rendering never
reaches another and nothing is sent that the page has no place for.

Pages also say when they were rendered (`&since=<Unix time>`): on connect the
consumer first sends what changed after that, so an event published between
the page's render and its socket joining the group (a machine deleted, a job
finished) is not lost.

With the in-memory channel layer (embedded mode) the worker's events cannot
reach this process, so the consumer re-reads its jobs from the database every
ATRIUM_LIVE_POLL_INTERVAL seconds instead; the browser still only receives pushes.
"""

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import InMemoryChannelLayer
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from apps.core.errors import NotFound
from apps.tenancies.selectors import tenancy_get_for_user

from .events import tenancy_group
from .live import LiveResource, live_resources
from .models import Job
from .selectors import job_log_lines


def _ints(values: list[str]) -> list[int]:
    """The whole numbers in comma-separated query values; anything else is skipped. ASCII
    digits only, at most 18 of them: int() refuses some digits isdigit() takes ('²') and
    values over 4,300 digits, and a socket must never fail on what a client put in its URL."""
    found = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if part.isascii() and part.isdigit() and len(part) <= 18:
                found.append(int(part))
    return found


# Clocks of the web and worker hosts may differ a little; sending a row again is harmless.
_CLOCK_SLACK = timedelta(seconds=5)


def _rendered_at(query: dict[str, list[str]]) -> datetime | None:
    """When the page was rendered (`since`, Unix seconds), less the clock slack."""
    seconds = _ints(query.get("since", []))
    if not seconds:
        return None
    try:
        return datetime.fromtimestamp(seconds[0], tz=UTC) - _CLOCK_SLACK
    except (OverflowError, OSError, ValueError):
        return None


class TenancyEventsConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]  # channels ships no types
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.user = user
        self.tenancy_id = int(self.scope["url_route"]["kwargs"]["tenancy_id"])
        if not await self._is_member():
            await self.close(code=4404)  # another tenancy's channel does not exist for this user
            return
        query = parse_qs(self.scope.get("query_string", b"").decode())
        job = _ints(query.get("job", []))
        self.job_id: int | None = job[0] if job else None
        self.log_after = (_ints(query.get("log_after", [])) or [0])[0]
        self.rows: set[int] = set(_ints(query.get("jobs", [])))
        self.accept_new = query.get("new") == ["1"] and self.job_id is None
        # Per live resource: the rows shown, whether new ones are wanted, the object of a detail page.
        self.live_rows: dict[str, set[int]] = {}
        self.live_new: set[str] = set()
        self.live_detail: dict[str, int] = {}
        for name in live_resources():
            if f"{name}s" in query:
                self.live_rows[name] = set(_ints(query[f"{name}s"]))
            if query.get(f"new_{name}s") == ["1"]:
                self.live_rows.setdefault(name, set())
                self.live_new.add(name)
            detail = _ints(query.get(name, []))
            if detail:
                self.live_detail[name] = detail[0]
        rendered_at = _rendered_at(query)
        self.group = tenancy_group(self.tenancy_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        # Whatever happened between the page's render and joining the group.
        since = timezone.now() - timedelta(seconds=2)
        if self.job_id is not None:
            await self._send_jobs([self.job_id])
        elif rendered_at is not None:
            since = await self._catch_up(rendered_at)
        self.poller: asyncio.Task[None] | None = None
        if isinstance(self.channel_layer, InMemoryChannelLayer):
            self.poller = asyncio.ensure_future(self._poll(since))

    async def disconnect(self, code: int) -> None:
        if getattr(self, "poller", None) is not None:
            self.poller.cancel()  # type: ignore[union-attr]
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Messages from the browser are ignored: this socket only pushes."""

    async def job_changed(self, event: dict[str, Any]) -> None:
        job_id = int(event["job_id"])
        if self._wants(job_id):
            await self._send_jobs([job_id])

    async def resource_changed(self, event: dict[str, Any]) -> None:
        name, object_id = str(event["resource"]), int(event["object_id"])
        if self._wants_resource(name, object_id):
            await self._send_resource(name, [object_id])

    def _wants_resource(self, name: str, object_id: int) -> bool:
        if self.live_detail.get(name) == object_id:
            return True
        return object_id in self.live_rows.get(name, ()) or name in self.live_new

    async def _send_resource(self, name: str, ids: list[int]) -> None:
        await self._send_parts(await self._render_resource(name, ids))

    @database_sync_to_async  # type: ignore[untyped-decorator]
    def _render_resource(self, name: str, ids: list[int]) -> list[str] | None:
        try:
            tenancy_get_for_user(user=self.user, tenancy_id=self.tenancy_id)
        except NotFound:
            return None
        resource: LiveResource | None = live_resources().get(name)
        if resource is None:
            return []
        parts: list[str] = []
        detail = self.live_detail.get(name)
        if detail is not None and detail in ids:
            parts.extend(resource.detail(self.tenancy_id, detail))
            if not resource.existing(self.tenancy_id, [detail]):
                del self.live_detail[name]  # told once that it is gone
        row_ids = [i for i in ids if i in self.live_rows.get(name, ()) or name in self.live_new]
        if not row_ids:
            return parts
        rows = resource.rows(self.tenancy_id, row_ids)
        shown = self.live_rows.setdefault(name, set())
        for object_id in row_ids:
            html = rows.get(object_id)
            if html is None:
                if object_id in shown:
                    shown.discard(object_id)
                    parts.append(f'<tr id="{resource.row_id(object_id)}" hx-swap-oob="delete"></tr>')
            elif object_id in shown:
                parts.append(html.replace("<tr ", '<tr hx-swap-oob="true" ', 1))
            else:
                shown.add(object_id)
                parts.append(f'<tbody id="{resource.rows_container}" hx-swap-oob="afterbegin">{html}</tbody>')
        return parts

    def _wants(self, job_id: int) -> bool:
        if self.job_id is not None:
            return job_id == self.job_id
        # Any job not yet shown is new to this page: its "created" event may have
        # been published before this socket joined the group.
        return job_id in self.rows or self.accept_new

    async def _send_jobs(self, job_ids: list[int]) -> None:
        await self._send_parts(await self._render(job_ids))

    async def _send_parts(self, parts: list[str] | None) -> None:
        """Send rendered fragments; None (no longer a member of the tenancy) closes the socket."""
        if parts is None:
            await self.close(code=4404)
            return
        # One message per fragment: htmx parses a message in the context of its
        # first tag, so a <tr> and a <tbody> in one message would break each other.
        for part in parts:
            await self.send(text_data=part)

    @database_sync_to_async  # type: ignore[untyped-decorator]
    def _is_member(self) -> bool:
        try:
            tenancy_get_for_user(user=self.user, tenancy_id=self.tenancy_id)
        except NotFound:
            return False
        return True

    @database_sync_to_async  # type: ignore[untyped-decorator]
    def _render(self, job_ids: list[int]) -> list[str] | None:
        """The page's fragments for these jobs; None when the user may no longer see the tenancy."""
        try:
            tenancy_get_for_user(user=self.user, tenancy_id=self.tenancy_id)
        except NotFound:
            return None
        jobs = Job.objects.filter(tenancy_id=self.tenancy_id, pk__in=job_ids).select_related(
            "requested_by", "target_type"
        )
        parts: list[str] = []
        for job in jobs:
            if self.job_id is not None:
                parts.append(
                    render_to_string("jobs/_summary.html", {"job": job, "stages": job.stages.all(), "oob": True})
                )
                lines = job_log_lines(job=job, after_id=self.log_after)
                if lines:
                    self.log_after = lines[-1].pk
                    log = render_to_string("jobs/_log_lines.html", {"log_lines": lines})
                    parts.append(f'<ol id="job-log" hx-swap-oob="beforeend">{log}</ol>')
            elif job.pk in self.rows:
                parts.append(render_to_string("jobs/_row.html", {"job": job, "oob": True}))
            else:
                self.rows.add(job.pk)
                row = render_to_string("jobs/_row.html", {"job": job})
                parts.append(f'<tbody id="job-rows" hx-swap-oob="afterbegin">{row}</tbody>')
        return parts

    async def _catch_up(self, since: datetime) -> datetime:
        """Send what changed after `since` that this page shows or wants; returns the
        time read before looking (the next `since`)."""
        found: tuple[list[tuple[int, bool]], dict[str, list[int]], datetime] = await self._changed_since(since)
        changed, resources, now = found
        wanted = [job_id for job_id, _ in changed if self._wants(job_id)]
        if wanted:
            await self._send_jobs(wanted)
        for name, ids in resources.items():
            wanted = [i for i in ids if self._wants_resource(name, i)]
            if wanted:
                await self._send_resource(name, wanted)
        return now

    async def _poll(self, since: datetime) -> None:
        interval = settings.ATRIUM_LIVE_POLL_INTERVAL
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                await asyncio.sleep(interval)
                since = await self._catch_up(since)

    @database_sync_to_async  # type: ignore[untyped-decorator]
    def _changed_since(self, since: datetime) -> tuple[list[tuple[int, bool]], dict[str, list[int]], datetime]:
        # Read the clock first: a change made while we read is seen again next time, never missed.
        now = timezone.now()
        jobs = Job.objects.filter(tenancy_id=self.tenancy_id, updated_at__gt=since)
        if self.job_id is not None:
            jobs = jobs.filter(pk=self.job_id)
        changed = [(pk, created_at > since) for pk, created_at in jobs.values_list("pk", "created_at")]
        resources = {}
        for name, resource in live_resources().items():
            if name in self.live_rows or name in self.live_detail:
                ids = resource.changed_since(self.tenancy_id, since)
                # Rows deleted since (the page still shows them): rendered as gone.
                shown = list(self.live_rows.get(name, ())) + list(filter(None, [self.live_detail.get(name)]))
                existing = resource.existing(self.tenancy_id, shown) if shown else set()
                resources[name] = ids + [i for i in shown if i not in existing and i not in ids]
        return changed, resources, now
