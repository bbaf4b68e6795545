"""/api/v1/: every app's `api/urls.py` is included here, plus the schema and docs."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from apps.core.api import ApiRootView, api_not_found

app_name = "api"

urlpatterns = [
    path("", ApiRootView.as_view(), name="root"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    path("", include("apps.accounts.api.urls")),
    path("", include("apps.tenancies.api.urls")),
    # Anything else under /api/v1/ is a JSON 404, never an HTML page.
    path("<path:rest>", api_not_found),
]
