from argparse import ArgumentParser
from typing import Any

from apps.clouds.management.base import RegisterCommand
from apps.tenancies.services import cloud_register


class Command(RegisterCommand):
    help = (
        "Register (or update) an OpenStack cloud from a clouds.yaml entry: its Keystone URL and options, and the "
        "entry's credentials (stored encrypted; normally left empty when every tenancy has its own)."
    )

    name_help = "The cloud's name in Atrium."

    def add_options(self, parser: ArgumentParser) -> None:
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
        with self.bad_input_refused():
            target, created = cloud_register(
                name=name,
                clouds_yaml=clouds_yaml,
                entry=cloud,
                with_credentials=not without_credentials,
                federated=federated,
                protocol=protocol,
            )
        stored = sorted(target.credentials or {})
        kept = "no credentials" if not stored else f"credentials: {', '.join(stored)}"
        if federated:
            kept = f"per-user federation through {federated}/{protocol}, no credentials"
        self.stdout.write(
            f"{'Registered' if created else 'Updated'} cloud {target.name} at {target.endpoint} ({kept})."
        )
