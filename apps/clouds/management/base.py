"""What the registration commands (cloud_register, tenancy_register) share: the name
of what they register, and a cloud's BadInput (e.g. a clouds.yaml entry it cannot
use) told as a CommandError, never a traceback."""

from argparse import ArgumentParser
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

from django.core.management.base import BaseCommand, CommandError

from apps.clouds.errors import BadInput


class RegisterCommand(BaseCommand):
    #: The help of the one positional argument, `name`.
    name_help: ClassVar[str]

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help=self.name_help)
        self.add_options(parser)

    def add_options(self, parser: ArgumentParser) -> None:
        """The command's own options."""

    @contextmanager
    def bad_input_refused(self) -> Iterator[None]:
        try:
            yield
        except BadInput as exc:
            raise CommandError(exc.message) from exc
