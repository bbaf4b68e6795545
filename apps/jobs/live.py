"""Live rows and panels of other apps on the per-tenancy websocket.

An app registers how to render its rows (and a detail page's panels) for one
resource name; pages ask for them in the socket's query string
(apps.jobs.consumers): `?machines=1,2,3` (rows shown), `&new_machines=1` (add
rows for new ones), `?machine=7` (a detail page). Services publish
`resource_changed_publish(tenancy_id=…, resource="machine", object_id=…)`.
Renderers are called only after the consumer has checked the user is still a
member of the tenancy, and must read only that tenancy's rows.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class LiveResource:
    name: str
    # (tenancy id, ids) -> {id: the row's HTML}; ids missing from the answer are gone.
    rows: Callable[[int, list[int]], dict[int, str]]
    # The id of the <tbody> new rows go to the top of.
    rows_container: str
    # (tenancy id, id) -> out-of-band fragments of the object's page; [] when gone.
    detail: Callable[[int, int], list[str]]
    # (tenancy id, since) -> ids changed after `since` (the embedded mode's polling).
    changed_since: Callable[[int, datetime], list[int]]
    # (tenancy id, ids) -> those of the ids that still exist (to remove gone rows when polling).
    existing: Callable[[int, list[int]], set[int]]
    # The id attribute of a row (so a gone row can be removed).
    row_id: Callable[[int], str]


_RESOURCES: dict[str, LiveResource] = {}


def register_live_resource(resource: LiveResource) -> None:
    _RESOURCES[resource.name] = resource


def live_resources() -> dict[str, LiveResource]:
    return dict(_RESOURCES)
