from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer

from .events import user_group


class EventsConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]  # channels ships no types
    """A signed-in user's live events. Anonymous connections are refused.

    Messages from the browser are ignored: this socket only pushes.
    """

    groups: list[str] = []

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def html_fragment(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["html"])
