from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import GroupMapping
from apps.tenancies.models import Tenancy


class Command(BaseCommand):
    help = "Map a value of the identity provider's groups claim to a tenancy and role (applied at each sign-in)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("group", help="The group, exactly as the provider sends it.")
        parser.add_argument("tenancy", help="The tenancy's name.")
        parser.add_argument("--role", choices=["member", "manager"], default="member")
        parser.add_argument("--remove", action="store_true", help="Remove the mapping instead.")

    def handle(self, *args: Any, group: str, tenancy: str, role: str, remove: bool, **options: Any) -> None:
        target = Tenancy.objects.filter(name=tenancy).first()
        if target is None:
            names = ", ".join(Tenancy.objects.values_list("name", flat=True)) or "none"
            raise CommandError(f"No tenancy named {tenancy!r} (there are: {names}).")
        if remove:
            deleted, _ = GroupMapping.objects.filter(group=group, tenancy=target).delete()
            self.stdout.write(f"Removed {deleted} mapping(s) of {group!r} to {target}.")
            return
        mapping, created = GroupMapping.objects.update_or_create(group=group, tenancy=target, defaults={"role": role})
        self.stdout.write(f"{'Mapped' if created else 'Updated'}: {mapping}.")
