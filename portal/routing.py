"""Websocket routes. Each app adds its consumers here."""

from django.urls import path

from apps.core.consumers import EventsConsumer
from apps.jobs.consumers import TenancyEventsConsumer

websocket_urlpatterns = [
    path("ws/events/", EventsConsumer.as_asgi()),
    path("ws/tenancies/<int:tenancy_id>/", TenancyEventsConsumer.as_asgi()),
]
