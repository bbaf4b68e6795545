"""The API base of every resource under /api/v1/tenancies/{tenancy_id}/.

`TenancyViewSet` takes the tenancy from the URL, scopes every read through the app's list
selector (another tenancy's object is 404), and answers every change with 202, the job and
`Location` (`accepted`; a create's answer also names the new row). A resource's viewset
declares its `rows` selector, `queryset` (the model, for the schema), `serializer_class` and
`not_found` message, then writes only its create and actions, a few lines each.
`tenancy_routes` names its URLs as a router would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from django.db.models import QuerySet
from django.urls import URLPattern, path
from drf_spectacular.utils import OpenApiExample, extend_schema_field
from rest_framework import generics, serializers, viewsets
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.serializers import Serializer

from apps.accounts.models import User
from apps.accounts.selectors import signed_in_user
from apps.jobs.api.responses import job_accepted
from apps.jobs.api.serializers import JobSerializer
from apps.jobs.models import Job
from apps.tenancies.models import Tenancy
from apps.tenancies.selectors import tenancy_get_for_user

from .selectors import row_get
from .services import Started

#: The URL prefix of every tenancy's resources (`<int:…>`: the schema types it as an integer).
T = "tenancies/<int:tenancy_id>"


class InTenancy(generics.GenericAPIView[Any]):
    """The tenancy in the URL (`<int:tenancy_id>`), and who asks."""

    @property
    def tenancy_id(self) -> int:
        return int(self.kwargs["tenancy_id"])

    def tenancy(self) -> Tenancy:
        return tenancy_get_for_user(user=self.request.user, tenancy_id=self.tenancy_id)

    @property
    def user(self) -> User:
        return signed_in_user(self.request)


def schema_only(view: Any) -> bool:
    """drf-spectacular builds the schema with a fake view and no real user."""
    return bool(getattr(view, "swagger_fake_view", False))


class TenancyViewSet(InTenancy, viewsets.GenericViewSet[Any]):
    """A resource of one tenancy: list and get through the `rows` selector
    (`rows(user=, tenancy_id=) -> (tenancy, queryset)`), changes answered by `accepted`."""

    #: The app's list selector, scoped to the user's tenancy (wrap it in staticmethod).
    rows: Callable[..., tuple[Any, QuerySet[Any]]]
    #: What a 404 says.
    not_found = "No such object."
    #: Relations a single row is read with (beyond the list's).
    object_related: tuple[str, ...] = ()

    def get_queryset(self) -> QuerySet[Any]:
        if schema_only(self):
            return super().get_queryset()  # the declared `queryset`: the model, no rows
        _, rows = type(self).rows(user=self.request.user, tenancy_id=self.tenancy_id)
        return rows

    def get_object(self) -> Any:
        return row_get(self.get_queryset().select_related(*self.object_related), int(self.kwargs["pk"]), self.not_found)

    def accepted(self, done: Job | Started[Any], created: type[Serializer[Any]] | None = None) -> Response:
        """202 with the job (Location: its URL); for a create (`Started`, with its `created`
        serializer) the new row's id and url beside it."""
        job = done.job if isinstance(done, Started) else done
        response = job_accepted(self.request, job)
        if created is not None and isinstance(done, Started):
            response.data = created(job, context={"request": self.request, "created": done.row}).data
        return response


def accepted_serializer(name: str, field: str, ref: type[Serializer[Any]], help_text: str, doc: str) -> Any:
    """The serializer (class `name`, described by `doc`) of a create's 202: the job, and under
    `field` the new row (context["created"]) as `ref` shows it (id, url, name)."""

    @extend_schema_field(ref)
    def created(self: Serializer[Any], job: Job) -> dict[str, Any]:
        return dict(ref(self.context["created"], context=self.context).data)

    fields = [*JobSerializer.Meta.fields, field]
    meta = type("Meta", (JobSerializer.Meta,), {"fields": fields, "read_only_fields": fields})
    return type(
        name,
        (JobSerializer,),
        {
            "__doc__": doc,
            "__module__": ref.__module__,
            field: serializers.SerializerMethodField(help_text=help_text),
            f"get_{field}": created,
            "Meta": meta,
        },
    )


def row_url(context: Mapping[str, Any], basename: str, tenancy_id: int, pk: int) -> str:
    """The API URL of a tenancy's row (`{basename}-detail` of `tenancy_routes`): its list's URL,
    reversed once per request and kept in the serializer `context` (which a list's rows share), and
    its id. One reverse() a row was a fifth of a list's time."""
    lists = cast(dict[str, Any], context).setdefault("row_url_lists", {})  # the view's dict, shared by its rows
    key = (basename, tenancy_id)
    if key not in lists:
        url = reverse(f"api:{basename}-list", kwargs={"tenancy_id": tenancy_id}, request=context.get("request"))
        lists[key] = url.partition("?")  # DRF keeps a ?format= of the request on the URLs it makes
    path, mark, query = lists[key]
    return f"{path}{pk}/{mark}{query}"


def tenancy_routes(prefix: str, viewset: Any, basename: str, actions: list[str]) -> list[URLPattern]:
    """list/create, retrieve/destroy and the @action `actions` of a viewset, named as a router names them."""
    list_methods = {"get": "list"} | ({"post": "create"} if hasattr(viewset, "create") else {})
    detail_methods = {"get": "retrieve"} | ({"delete": "destroy"} if hasattr(viewset, "destroy") else {})
    return [
        path(f"{T}/{prefix}/", viewset.as_view(list_methods, basename=basename), name=f"{basename}-list"),
        path(
            f"{T}/{prefix}/<int:pk>/",
            viewset.as_view(detail_methods, basename=basename, detail=True),
            name=f"{basename}-detail",
        ),
        *(
            path(
                f"{T}/{prefix}/<int:pk>/{getattr(viewset, name).url_path}/",
                # The methods the @action declares, as a router maps them.
                viewset.as_view(dict(getattr(viewset, name).mapping), basename=basename, detail=True),
                name=f"{basename}-{getattr(viewset, name).url_name}",
            )
            for name in actions
        ),
    ]


def accepted_example(kind: str, label: str, target_type: str, target_id: int, name: str) -> dict[str, Any]:
    """A create's 202 body for the schema's examples."""
    return {
        "id": 1234,
        "url": "https://atrium.example.org/api/v1/jobs/1234/",
        "kind": kind,
        "kind_label": label,
        "tenancy": 3,
        "target": {"type": target_type, "id": str(target_id), "name": name},
        "state": "queued",
        "progress": 0,
        "stages": [],
        "attempts": 0,
        "max_attempts": 3,
        "cancel_requested": False,
        "result": None,
        "error": "",
        "requested_by": "physicist",
        "created_at": "2025-06-02T09:30:00Z",
        "started_at": None,
        "finished_at": None,
        "updated_at": "2025-06-02T09:30:00Z",
    }


def created_example(title: str, *, kind: str, label: str, target_type: str, name: str, field: str, ref: Any) -> Any:
    """The schema's example of a create's 202: the job (on `target_type` `name`) and, under
    `field`, the new row's `ref` (its id, url and name)."""
    return OpenApiExample(
        title,
        value=accepted_example(kind, label, target_type, ref["id"], name) | {field: ref},
        response_only=True,
        status_codes=["202"],
    )
