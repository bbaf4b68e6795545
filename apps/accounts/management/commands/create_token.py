from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import User
from apps.accounts.services import api_token_create
from apps.core.errors import ApplicationError


class Command(BaseCommand):
    help = "Create a personal API token for USERNAME and print it (shown only this once)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="created with manage.py create_token")
        parser.add_argument("--expires-in-days", type=int, default=None)

    def handle(self, *args: Any, username: str, name: str, expires_in_days: int | None, **options: Any) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        try:
            _, key = api_token_create(user=user, name=name, expires_in_days=expires_in_days)
        except ApplicationError as error:
            raise CommandError(error.message) from error
        self.stdout.write(key)
