"""manage.py platform_types_sync: load every platform type from ATRIUM_PLATFORM_TYPES_DIR
into the database; exits 1 naming each refused platform.yaml (and its field)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.platforms.loader import platform_types_sync, types_dir


class Command(BaseCommand):
    help = "Load the platform types from ATRIUM_PLATFORM_TYPES_DIR (terraform/) into the database."

    def handle(self, *args: Any, **options: Any) -> None:
        loaded = platform_types_sync()
        for found in loaded:
            if found.error:
                self.stderr.write(found.error)
            else:
                self.stdout.write(f"{found.name}: loaded")
        refused = [f for f in loaded if f.error]
        if refused:
            raise CommandError(f"{len(refused)} of {len(loaded)} platform types in {types_dir()} were refused.")
