"""How to connect to a machine, for its page: the ssh command (the image's default user as the
catalogue knows it, else the name cloud images of the image's OS use), the address and the key."""

from typing import Any

from apps.accounts.models import SshPublicKey
from apps.catalogue.models import Catalogue

from .models import Machine


def _login_user(machine: Machine) -> str:
    images = Catalogue.objects.filter(tenancy_id=machine.tenancy_id).values_list("images", flat=True).first() or []
    image: dict[str, Any] = next((i for i in images if i.get("id") == machine.image_id), {})
    if image.get("default_user"):
        return str(image["default_user"])
    # Cloud images of most distributions log in as the distribution's name (ubuntu, debian, rocky…).
    distro = str(image.get("os_distro") or "").strip().lower()
    return distro.split()[0] if distro else "root"


def connect_hint(machine: Machine) -> dict[str, Any] | None:
    """The ssh command and what it uses; None until the machine has an address."""
    address = machine.external_ip or machine.internal_ip
    if not address or machine.status != "ACTIVE":
        return None
    user = _login_user(machine)
    key = None
    if machine.key_fingerprint and machine.created_by_id:
        key = SshPublicKey.objects.filter(user_id=machine.created_by_id, fingerprint=machine.key_fingerprint).first()
    return {
        "command": f"ssh {user}@{address}",
        "user": user,
        "address": address,
        "external": bool(machine.external_ip),
        "key_name": key.name if key else machine.key_name,
    }
