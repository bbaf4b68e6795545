from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from .forms import LoginForm
from .oidc import logout_response


class LoginView(auth_views.LoginView):
    """The sign-in page: the institution's OIDC button and, where allowed,
    local username/password (embedded mode, break-glass operators)."""

    template_name = "accounts/login.html"
    form_class = LoginForm
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.ATRIUM_LOCAL_LOGIN:
            raise Http404("Local login is switched off.")
        return super().post(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["demo_logins"] = (
            [("physicist", "Physics member"), ("biologist", "Biology member"), ("operator", "Operator (staff)")]
            if settings.ATRIUM_EMBEDDED
            else []
        )
        return context


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """Sign out (POST, from the user menu or the profile page). A federated
    session also ends at the identity provider (RP-initiated logout)."""
    return logout_response(request)


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    """Who you are here, your tenancies, and signing out (works without JavaScript)."""
    return render(request, "accounts/profile.html")
