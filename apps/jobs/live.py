"""Live rows and panels of other apps on the per-tenancy websocket.

An app registers how to render its rows (and a detail page's panels) for one
resource name; pages ask for them in the socket's query string
(apps.jobs.consumers): `?machines=1,2,3` (rows shown), `&new_machines=1` (add
rows for new ones), `?machine=7` (a detail page). Services publish
`resource_changed_publish(tenancy_id=…, resource="machine", object_id=…)`.
Renderers are called only after the consumer has checked the user is still a
member of the tenancy, and must read only that tenancy's rows.

Most apps need not write renderers: they declare their rows (`LiveRows`: the model, the
row's template, the parents a change re-renders) and `register_live_rows` builds them.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Model, Prefetch
from django.db.models.signals import post_init
from django.template.loader import render_to_string


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


# --- live rows from a declaration -------------------------------------------------------------


@dataclass(frozen=True)
class LiveRows:
    """What an app declares to make a model's rows live (and its changes reach the rows and
    pages of the objects it belongs to):

    - `model`: a tenancy's rows (with `tenancy_id` and `updated_at`), published under its
      model name (apps.machines.services.changed);
    - `template`: one `<tr id="{name}-row-{pk}">` of the list, rendered with the row as
      `context_name` (the model name by default) and `context(tenancy_id)`; the list's
      `<tbody id="{name}-rows">` takes new rows; None when the model has no live list;
    - `parents`: foreign keys to other live resources (`"machine"`): a change of the row is
      also a change of the object it points at now *and* of the one it pointed at when it
      was loaded (a detached volume re-renders the machine it left);
    - `detail`: the object's page's fragments, as LiveResource.detail;
    - `page`: the URL of the page that shows a row (a job's page links there).
    """

    model: type[Model]
    template: str | None = None
    parents: tuple[str, ...] = ()
    select_related: tuple[str, ...] = ()
    #: What the rows read of their related objects, for all the rows at once (names or `Prefetch`es).
    prefetch_related: tuple[str | Prefetch[Any], ...] = ()
    context: Callable[[int], dict[str, Any]] | None = None
    detail: Callable[[int, int], list[str]] | None = None
    context_name: str = ""
    #: The page that shows a row (a job's page links to its target there).
    page: Callable[[Any], str] | None = None

    @property
    def name(self) -> str:
        return self.model._meta.model_name or ""


_DECLARED: dict[type[Model], LiveRows] = {}


def register_live_rows(declaration: LiveRows) -> None:
    """Register the declaration (the socket renders its rows; `live_parents` knows its parents)."""
    _DECLARED[declaration.model] = declaration
    if declaration.parents:
        post_init.connect(_remember_parents, sender=declaration.model, dispatch_uid=f"live-{declaration.name}")
    if declaration.template is None and declaration.detail is None:
        return
    model, name = declaration.model, declaration.name
    rows_of = model.objects  # type: ignore[attr-defined]  # every model has a default manager

    def rows(tenancy_id: int, ids: list[int]) -> dict[int, str]:
        if declaration.template is None:
            return {}
        found = (
            rows_of.filter(tenancy_id=tenancy_id, pk__in=ids)
            .select_related(*declaration.select_related)
            .prefetch_related(*declaration.prefetch_related)
        )
        shared = declaration.context(tenancy_id) if declaration.context else {}
        as_name = declaration.context_name or name
        return {obj.pk: render_to_string(declaration.template, {as_name: obj, **shared}) for obj in found}

    register_live_resource(
        LiveResource(
            name=name,
            rows=rows,
            rows_container=f"{name}-rows",
            detail=declaration.detail or (lambda tenancy_id, object_id: []),
            changed_since=lambda tenancy_id, since: list(
                rows_of.filter(tenancy_id=tenancy_id, updated_at__gt=since).values_list("pk", flat=True)
            ),
            existing=lambda tenancy_id, ids: set(
                rows_of.filter(tenancy_id=tenancy_id, pk__in=ids).values_list("pk", flat=True)
            ),
            row_id=lambda pk: f"{name}-row-{pk}",
        )
    )


def _remember_parents(sender: type[Model], instance: Model, **kwargs: Any) -> None:
    declaration = _DECLARED[sender]
    instance.__dict__["_live_parents_loaded"] = {
        field: instance.__dict__.get(f"{field}_id") for field in declaration.parents
    }


def live_parents(obj: Model) -> list[tuple[type[Model], str, int]]:
    """The live objects a change of `obj` also changes: (model, resource name, id) of each
    parent it points at now or pointed at when loaded."""
    declaration = _DECLARED.get(type(obj))
    if declaration is None:
        return []
    loaded = obj.__dict__.get("_live_parents_loaded", {})
    found = []
    for field in declaration.parents:
        parent: type[Model] = obj._meta.get_field(field).related_model  # type: ignore[assignment]
        for parent_id in dict.fromkeys([getattr(obj, f"{field}_id"), loaded.get(field)]):
            if parent_id is not None:
                found.append((parent, parent._meta.model_name or "", parent_id))
    return found


def object_page(model: type[Model] | None, tenancy_id: int, object_id: str) -> str | None:
    """The page showing a tenancy's object (a job's target), or None when it is gone or has none."""
    declaration = _DECLARED.get(model) if model is not None else None
    if declaration is None or declaration.page is None:
        return None
    found = declaration.model._default_manager.filter(tenancy_id=tenancy_id, pk=object_id).first()
    return declaration.page(found) if found is not None else None
