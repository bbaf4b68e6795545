"""Telling browsers that a job changed.

Workers publish only "job N of tenancy T changed" to the tenancy's group; each
connected page's consumer (apps.jobs.consumers) re-checks the user's
membership, reads the job through the selectors and renders the fragments its
page shows. So nothing rendered for one user ever goes to another, and a
missed message costs nothing: the next one brings the page up to date.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger("apps.jobs.events")


def tenancy_group(tenancy_id: int) -> str:
    return f"tenancy.{tenancy_id}"


def job_changed_publish(*, tenancy_id: int, job_id: int, created: bool = False) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            tenancy_group(tenancy_id), {"type": "job.changed", "job_id": job_id, "created": created}
        )
    except Exception:
        logger.warning("Could not publish a change of job %s", job_id, exc_info=True)


def resource_changed_publish(*, tenancy_id: int, resource: str, object_id: int, created: bool = False) -> None:
    """A tenancy's resource row (a machine, a volume…) changed: pages showing it re-render it
    through the renderer its app registered (apps.jobs.live)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            tenancy_group(tenancy_id),
            {"type": "resource.changed", "resource": resource, "object_id": object_id, "created": created},
        )
    except Exception:
        logger.warning("Could not publish a change of %s %s", resource, object_id, exc_info=True)
