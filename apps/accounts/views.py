from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.timesince import timesince
from django.views.decorators.http import require_http_methods, require_POST

from apps.core.confirm import Confirmation, confirm
from apps.core.errors import ApplicationError

from .forms import ApiTokenForm, LoginForm, SshKeyForm
from .oidc import logout_response
from .selectors import api_token_get, api_token_list, signed_in_user, ssh_key_get, ssh_key_list
from .services import api_token_create, api_token_revoke, ssh_key_add, ssh_key_delete


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

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        if settings.ATRIUM_LOCAL_LOGIN_STAFF_ONLY and not user.is_staff:
            form.add_error(None, f"Please sign in with {settings.ATRIUM_OIDC_PROVIDER_NAME}.")
            return self.form_invalid(form)
        return super().form_valid(form)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["demo_logins"] = (
            [("physicist", "Physics member"), ("biologist", "Biology member"), ("operator", "Operator (staff)")]
            if settings.ATRIUM_EMBEDDED
            else []
        )
        return context


def admin_login(request: HttpRequest) -> HttpResponse:
    """Stands in for the admin's own login form (routed before the admin's
    URLs): Atrium has one password form, the sign-in page, switched by
    ATRIUM_LOCAL_LOGIN and limited by django-axes, next to OIDC. Operators are
    sent there and come back to the admin signed in. Nothing posted here is
    read."""
    target = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("admin:index")
    if request.user.is_authenticated:
        if not request.user.is_staff:
            messages.error(request, "The admin is for operators; you are signed in without an operator's rights.")
            return redirect("core:home")
        return redirect(target)
    return redirect(f"{reverse(settings.LOGIN_URL)}?{urlencode({'next': target})}")


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """Sign out (POST, from the user menu or the profile page). A federated
    session also ends at the identity provider (RP-initiated logout)."""
    return logout_response(request)


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    """Who you are here, your tenancies, and signing out (works without JavaScript)."""
    return render(request, "accounts/profile.html")


@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    """Your API tokens; a new one is shown once, right after it is made."""
    user = signed_in_user(request)
    form = ApiTokenForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        try:
            token, new_key = api_token_create(user=user, **form.cleaned_data)
        except ApplicationError as error:
            form.add_service_error(error)
        else:
            form = ApiTokenForm()
            messages.success(request, f"Token “{token.name}” created. Copy it now: it is not shown again.")
    return render(
        request, "accounts/tokens.html", {"tokens": api_token_list(user=user), "form": form, "new_key": new_key}
    )


@login_required
@require_http_methods(["GET", "POST"])
def token_revoke(request: HttpRequest, token_key: str) -> HttpResponse:
    """GET asks (scripts using the token stop working); POST revokes."""
    token = api_token_get(user=signed_in_user(request), token_key=token_key)
    used = f"last used {timesince(token.last_used_at)} ago" if token.last_used_at else "never used"
    question = Confirmation(
        title=f"Revoke the API token “{token.name}” ({token.token_key}…)?",
        button=f"Revoke {token.name}",
        back=reverse("accounts:tokens"),
        consequences=[
            f"Scripts that use it are refused at once (it was {used}). It cannot be undone: make a new token for them."
        ],
    )
    done = f"Token “{token.name}” revoked: it no longer works."
    return _confirmed(request, question, lambda: api_token_revoke(token=token), done, "accounts:tokens")


@login_required
def ssh_key_list_view(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    form = SshKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            key = ssh_key_add(user=user, **form.cleaned_data)
        except ApplicationError as error:
            form.add_service_error(error)
        else:
            messages.success(request, f"SSH key “{key.name}” added ({key.fingerprint}).")
            return redirect("accounts:ssh-keys")
    return render(request, "accounts/ssh_keys.html", {"keys": ssh_key_list(user=user), "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def ssh_key_delete_view(request: HttpRequest, key_id: int) -> HttpResponse:
    """GET asks (machines made with the key keep it); POST removes it from Atrium."""
    key = ssh_key_get(user=signed_in_user(request), key_id=key_id)
    question = Confirmation(
        title=f"Remove the SSH key “{key.name}” ({key.fingerprint})?",
        button=f"Remove {key.name}",
        back=reverse("accounts:ssh-keys"),
        consequences=[
            "New machines can no longer be made with it.",
            "Machines already made with it keep it: remove it from their ~/.ssh/authorized_keys yourself "
            "if the key is no longer safe.",
        ],
    )
    done = f"SSH key “{key.name}” removed."
    return _confirmed(request, question, lambda: ssh_key_delete(key=key), done, "accounts:ssh-keys")


def _confirmed(
    request: HttpRequest, question: Confirmation, act: Callable[[], object], done: str, back: str
) -> HttpResponse:
    """GET: the question (apps.core.confirm); POST: `act`, say `done`, go to the page `back` names."""

    def perform() -> HttpResponse:
        act()
        messages.success(request, done)
        return redirect(back)

    return confirm(request, question, perform)
