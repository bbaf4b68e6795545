from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from apps.jobs.urls import operator_urlpatterns

urlpatterns = [
    path("", include("apps.core.urls")),
    path("accounts/", include("apps.accounts.urls")),
    path("tenancies/", include("apps.tenancies.urls")),
    path("tenancies/<int:tenancy_id>/", include("apps.jobs.urls")),
    path("operators/", include((operator_urlpatterns, "operators"))),
    path("admin/", admin.site.urls),
    path("api/v1/", include("portal.api_urls")),
]
if settings.ATRIUM_OIDC_ENABLED:
    urlpatterns.append(path("oidc/", include("mozilla_django_oidc.urls")))

handler400 = "apps.core.views.bad_request"
handler403 = "apps.core.views.permission_denied"
handler404 = "apps.core.views.page_not_found"
handler500 = "apps.core.views.server_error"
