"""The provider and what its resources share.

The provider is configured with the Atrium tenancy whose cloud it acts on (`tenancy`, its id)
and, optionally, the platform it deploys (`platform`, a label not stored yet). Django's settings
and database come from the environment of the process that runs Terraform (never from files).
Each resource calls the tenancy's driver directly, in this process (no Atrium job is started),
and writes Atrium's own row for what it made, with the services the machines jobs use.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, ClassVar, TypeVar, cast

from django.conf import settings
from tf.iface import Provider, Resource  # type: ignore[import-untyped]
from tf.schema import Attribute, Schema  # type: ignore[import-untyped]
from tf.types import Number, String  # type: ignore[import-untyped]

from apps.clouds.base import CloudDriver
from apps.clouds.errors import NotFound, Timeout
from apps.clouds.registry import driver_for_tenancy
from apps.core.errors import ApplicationError
from apps.core.resources.jobs import clearing_task
from apps.core.resources.models import CloudResource
from apps.core.resources.services import row_delete
from apps.jobs.context import JobContext
from apps.tenancies.models import Tenancy

from . import SOURCE

State = dict[str, Any]
#: The prior state a plan is made from (None for a create).
PlanState = State | None
T = TypeVar("T")
R = TypeVar("R", bound=CloudResource)
F = TypeVar("F", bound=Callable[..., Any])

logger = logging.getLogger(__name__)

#: SQLite takes one writer at a time: the provider's threads (Terraform changes up to ten
#: resources at once) take turns there rather than fail with "database is locked".
_SQLITE_TURNS = threading.Lock()


class AtriumProvider(Provider):  # type: ignore[misc]
    def __init__(self) -> None:
        self.tenancy_id: int | None = None
        self.platform = ""

    def get_model_prefix(self) -> str:
        return "atrium_"

    def full_name(self) -> str:
        return SOURCE

    def get_provider_schema(self, diags: Any) -> Any:
        return Schema(
            attributes=[
                Attribute("tenancy", Number(), required=True, description="The Atrium tenancy's id."),
                Attribute("platform", String(), optional=True, description="The platform deployed (a label)."),
            ]
        )

    def validate_config(self, diags: Any, config: dict[str, Any]) -> None:
        pass

    def configure_provider(self, diags: Any, config: dict[str, Any]) -> None:
        tenancy = config.get("tenancy")
        if not isinstance(tenancy, int | float) or not Tenancy.objects.filter(pk=int(tenancy)).exists():
            diags.add_error("Unknown tenancy", f"Atrium has no tenancy {tenancy!r}.", path=["tenancy"])
            return
        self.tenancy_id = int(tenancy)
        self.platform = str(config.get("platform") or "")

    def get_data_sources(self) -> list[Any]:
        return []

    def get_resources(self) -> list[Any]:
        from .machines import MachineResource
        from .network import ExternalIpResource, FirewallRuleResource
        from .storage import VolumeResource

        return [MachineResource, VolumeResource, ExternalIpResource, FirewallRuleResource]


class AtriumResource(Resource):  # type: ignore[misc]
    """One kind of resource: `kind` (the name after `atrium_`) and its `schema`."""

    kind: ClassVar[str]
    schema: ClassVar[Any]

    def __init__(self, provider: AtriumProvider):
        self.provider = provider

    @classmethod
    def get_name(cls) -> str:
        return cls.kind

    @classmethod
    def get_schema(cls) -> Any:
        return cls.schema

    @functools.cached_property
    def tenancy(self) -> Tenancy:
        if self.provider.tenancy_id is None:
            raise ApplicationError("The provider has no tenancy (configure `tenancy`).")
        return Tenancy.objects.select_related("cloud").get(pk=self.provider.tenancy_id)

    @functools.cached_property
    def driver(self) -> CloudDriver:
        return driver_for_tenancy(self.tenancy)

    def row(self, model: type[R], cloud_id: str) -> R | None:
        """Atrium's row of the tenancy for the cloud's `cloud_id` (None: Atrium has none)."""
        return model._default_manager.filter(tenancy=self.tenancy, cloud_id=cloud_id).first()

    def row_of(self, model: type[R], cloud_id: str) -> R:
        """Atrium's row for a resource in the state; one missing (deleted by hand) is said so."""
        row = self.row(model, cloud_id)
        if row is None:
            what = model._meta.verbose_name
            raise ApplicationError(f"Atrium has no {what} {cloud_id} in {self.tenancy.name}: refresh, or remove it.")
        return row

    def refreshed(
        self, model: type[R], cloud_id: str, look: Callable[[], T], store: Callable[[R, T], object]
    ) -> T | None:
        """What the cloud says of the resource now (`look`), stored on its row; None, the row
        dropped, when the cloud no longer has it (Terraform then forgets it)."""
        row = self.row(model, cloud_id)
        try:
            seen = look()
        except NotFound:
            if row is not None:
                row_delete(row)
            return None
        if row is not None:
            store(row, seen)
        return seen


def reported(*, keep_prior: bool) -> Callable[[F], F]:
    """Run a resource operation in its turn, with what Atrium raises (a cloud's refusal, a bad
    request) reported to Terraform as an error diagnostic (any other exception too, as the
    provider's failure, rather than the gRPC error Terraform shows as a plugin crash). The
    state then answered: the prior state (`keep_prior`: a read, update or delete that failed
    leaves the resource as it was) or none (a create that made nothing)."""

    def decorate(operation: F) -> F:
        @functools.wraps(operation)
        def run(self: AtriumResource, ctx: Any, prior: State | None, *rest: Any) -> Any:
            sqlite = settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
            with _SQLITE_TURNS if sqlite else nullcontext():
                try:
                    return operation(self, ctx, prior, *rest)
                except ApplicationError as exc:
                    diagnose(ctx, exc)
                except Exception as exc:  # a bug of ours: said as such, with the traceback in the log
                    logger.exception("%s failed", ctx.type_name)
                    ctx.diagnostics.add_error(f"{ctx.type_name}: Atrium's provider failed ({exc!r}).")
                return prior if keep_prior else None

        return cast(F, run)

    return decorate


def idle_after(row: CloudResource | None) -> AbstractContextManager[None]:
    """The row's task cleared when the block ends, however it ends (as the jobs' `clearing_task`)."""
    return clearing_task(row) if row is not None else nullcontext()


def diagnose(ctx: Any, exc: ApplicationError) -> None:
    """The error as Terraform shows it, with each field's complaint."""
    fields = "; ".join(f"{name}: {' '.join(problems)}" for name, problems in (exc.fields or {}).items())
    ctx.diagnostics.add_error(f"{ctx.type_name}: {exc.message}", fields)


def settle(look: Callable[[], T], done: Callable[[T], bool], *, what: str, timeout: float) -> T:
    """Look again (at most every ATRIUM_MACHINE_POLL_INTERVAL seconds, sooner at first) until
    `done` says what was seen is settled; Timeout naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    pause = 0.2
    while True:
        seen = look()
        if done(seen):
            return seen
        if time.monotonic() + pause > deadline:
            raise Timeout(f"{what} did not finish within {timeout:.0f} seconds.")
        time.sleep(pause)
        pause = min(pause * 2, float(settings.ATRIUM_MACHINE_POLL_INTERVAL))


class _ProviderLog:
    """What the machines jobs' helpers log to (a JobContext's `log`): here, the provider's
    log (Django's logging: stderr, which Terraform shows with TF_LOG=debug; never stdout)."""

    def log(self, message: str, *, level: str = "info") -> None:
        logger.log(logging.getLevelNamesMapping().get(level.upper(), logging.INFO), message)


def job_log() -> JobContext:
    """A stand-in for the JobContext the machines jobs' helpers take (they only `log` to it)."""
    return cast(JobContext, _ProviderLog())


def unknown_if_changed(ctx: Any, planned: State, field: str, computed: tuple[str, ...]) -> State:
    """A plan in which the `computed` attributes are unknown when `field` changes (they follow it)."""
    from tf.types import Unknown

    if field in ctx.changed_fields:
        for name in computed:
            planned[name] = Unknown
    return planned
