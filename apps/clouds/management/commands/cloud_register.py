from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.clouds.errors import BadInput
from apps.tenancies.services import cloud_register


class Command(BaseCommand):
    help = (
        "Register (or update) an OpenStack cloud from a clouds.yaml entry: its Keystone URL and options, and the "
        "entry's credentials (stored encrypted; normally left empty when every tenancy has its own)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="The cloud's name in Atrium.")
        parser.add_argument("--clouds-yaml", required=True, help="Path to a clouds.yaml.")
        parser.add_argument("--cloud", required=True, help="The entry in it.")
        parser.add_argument(
            "--without-credentials", action="store_true", help="Keep only the URL and options (tenancies bring theirs)."
        )
        parser.add_argument(
            "--federated",
            metavar="IDENTITY_PROVIDER",
            default="",
            help=(
                "Per-user federation: act as each user with their OIDC access token, exchanged at Keystone's "
                "OS-FEDERATION identity provider of this name; stores no credentials."
            ),
        )
        parser.add_argument(
            "--protocol", default="openid", help="With --federated: Keystone's federation protocol name."
        )

    def handle(
        self,
        *args: Any,
        name: str,
        clouds_yaml: str,
        cloud: str,
        without_credentials: bool,
        federated: str,
        protocol: str,
        **o: Any,
    ) -> None:
        try:
            target, created = cloud_register(
                name=name,
                clouds_yaml=clouds_yaml,
                entry=cloud,
                with_credentials=not without_credentials,
                federated=federated,
                protocol=protocol,
            )
        except BadInput as exc:
            raise CommandError(exc.message) from exc
        stored = sorted(target.credentials or {})
        kept = "no credentials" if not stored else f"credentials: {', '.join(stored)}"
        if federated:
            kept = f"per-user federation through {federated}/{protocol}, no credentials"
        self.stdout.write(
            f"{'Registered' if created else 'Updated'} cloud {target.name} at {target.endpoint} ({kept})."
        )
