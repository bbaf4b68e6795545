"""/api/v1/: every app's `api/urls.py` is included here, plus the schema and docs."""

from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.core.api import ApiRootView, api_not_found

app_name = "api"

api_docs_csp = csp_update({"style-src": ["'unsafe-inline'"]})

urlpatterns = [
    path("", ApiRootView.as_view(), name="root"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI sets inline style attributes; only its page allows that. (No ReDoc:
    # its page loads web fonts from a third party.)
    path("docs/", api_docs_csp(SpectacularSwaggerSplitView.as_view(url_name="api:schema")), name="docs"),
    path("", include("apps.accounts.api.urls")),
    path("", include("apps.tenancies.api.urls")),
    path("", include("apps.jobs.api.urls")),
    path("", include("apps.machines.api.urls")),
    path("", include("apps.catalogue.api.urls")),
    path("", include("apps.platforms.api.urls")),
    # Anything else under /api/v1/ is a JSON 404, never an HTML page.
    path("<path:rest>", api_not_found),
]
