"""Fault injection for the local cloud: switched on by tests and demos
(`apps.clouds.local.services.local_fault_inject`), stored in the database so
every process sees it, consumed by the driver at the start of an operation."""

from django.db import transaction
from django.db.models import Q

from .. import errors
from ..models import LocalFault

RAISING = [LocalFault.Kind.ERROR, LocalFault.Kind.TIMEOUT, LocalFault.Kind.UNREACHABLE, LocalFault.Kind.AUTHENTICATION]


def fault_take(*, cloud_id: int, project_id: str, operation: str, kinds: list[LocalFault.Kind]) -> LocalFault | None:
    """The first matching fault, used up once (deleted when it has no uses left)."""
    with transaction.atomic():
        fault = (
            LocalFault.objects.select_for_update()
            .filter(cloud_id=cloud_id, kind__in=kinds)
            .filter(Q(operation=operation) | Q(operation="*"))
            .filter(Q(project_id="") | Q(project_id=project_id))
            .first()
        )
        if fault is None:
            return None
        if fault.remaining is not None:
            if fault.remaining <= 1:
                fault.delete()
            else:
                fault.remaining -= 1
                fault.save(update_fields=["remaining"])
        return fault


def fault_raise(*, cloud_id: int, project_id: str, operation: str) -> None:
    fault = fault_take(cloud_id=cloud_id, project_id=project_id, operation=operation, kinds=RAISING)
    if fault is None:
        return
    message = fault.message or None
    if fault.kind == LocalFault.Kind.TIMEOUT:
        raise errors.Timeout(message)
    if fault.kind == LocalFault.Kind.UNREACHABLE:
        raise errors.Communication(message)
    if fault.kind == LocalFault.Kind.AUTHENTICATION:
        raise errors.Authentication(message)
    raise errors.CloudError(message or f"The cloud failed to {operation.replace('_', ' ')} (injected fault).")
