from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.core.demo import DemoRefused, demo_load


class Command(BaseCommand):
    help = "Load the embedded mode's demo users, tenancies and local cloud (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            created = demo_load()
        except DemoRefused as exc:
            raise CommandError(str(exc)) from exc
        if created:
            self.stdout.write("Demo data: created " + ", ".join(created) + ".")
        else:
            self.stdout.write("Demo data: already loaded.")
