from typing import Any

from django.http import HttpRequest

from .selectors import tenancy_list_for_user


def tenancies(request: HttpRequest) -> dict[str, Any]:
    """The tenancy switcher: the user's tenancies and the one in the URL, if any."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"my_tenancies": [], "current_tenancy": None}
    mine = list(tenancy_list_for_user(user=user))
    match = getattr(request, "resolver_match", None)
    current_id = match.kwargs.get("tenancy_id") if match else None
    current = next((t for t in mine if t.pk == current_id), None)
    return {"my_tenancies": mine, "current_tenancy": current}
