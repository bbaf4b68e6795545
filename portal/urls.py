from django.contrib import admin
from django.urls import include, path
from mozilla_django_oidc.views import OIDCAuthenticationRequestView

from apps.accounts.oidc import CallbackView
from apps.accounts.views import admin_login
from apps.jobs.urls import operator_urlpatterns

urlpatterns = [
    path("", include("apps.core.urls")),
    path("accounts/", include("apps.accounts.urls")),
    path("tenancies/", include("apps.tenancies.urls")),
    path("tenancies/<int:tenancy_id>/", include("apps.jobs.urls")),
    path("tenancies/<int:tenancy_id>/", include("apps.machines.urls")),
    path("tenancies/<int:tenancy_id>/", include("apps.platforms.urls")),
    path("operators/", include((operator_urlpatterns, "operators"))),
    # The admin's own password form is replaced: operators sign in on Atrium's sign-in page.
    path("admin/login/", admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("portal.api_urls")),
    # OIDC: start (/oidc/authenticate/) from the library, the callback our own.
    path("oidc/callback/", CallbackView.as_view(), name="oidc_authentication_callback"),
    path("oidc/authenticate/", OIDCAuthenticationRequestView.as_view(), name="oidc_authentication_init"),
]

handler400 = "apps.core.views.bad_request"
handler403 = "apps.core.views.permission_denied"
handler404 = "apps.core.views.page_not_found"
handler500 = "apps.core.views.server_error"
