"""Pushing HTML fragments to a signed-in user's browsers over the websocket.

Each browser page joins the group of its user (`EventsConsumer`); htmx's
websocket extension swaps what arrives into the page by element id (out of band).
Jobs and the sync publish through here; apps add per-tenancy groups the same way.
"""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def push_to_user(*, user_id: int, html: str) -> None:
    """Send an HTML fragment (with hx-swap-oob targets) to every page of a user."""
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(layer.group_send)(user_group(user_id), {"type": "html.fragment", "html": html})
