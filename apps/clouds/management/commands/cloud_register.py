from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.clouds.errors import BadInput
from apps.tenancies.models import Cloud


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
        from apps.clouds.openstack.sdk import clouds_yaml_entry

        try:
            auth_url, options, credentials = clouds_yaml_entry(clouds_yaml, cloud)
        except BadInput as exc:
            raise CommandError(exc.message) from exc
        if federated:
            options.update(auth="federated", identity_provider=federated, protocol=protocol)
            without_credentials = True
        defaults: dict[str, Any] = {"driver": Cloud.Driver.OPENSTACK, "endpoint": auth_url, "options": options}
        if federated:
            defaults["credentials"] = {}  # acts as each user: no long-lived credential at all
        elif not without_credentials:
            defaults["credentials"] = credentials
        target, created = Cloud.objects.update_or_create(name=name, defaults=defaults)
        kept = "no credentials" if without_credentials else f"credentials: {', '.join(sorted(credentials)) or 'none'}"
        if federated:
            kept = f"per-user federation through {federated}/{protocol}, no credentials"
        self.stdout.write(f"{'Registered' if created else 'Updated'} cloud {target.name} at {auth_url} ({kept}).")
