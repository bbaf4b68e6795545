from argparse import ArgumentParser
from typing import Any

import requests
from django.core.management.base import BaseCommand, CommandError

SETTINGS = {
    "OIDC_OP_ISSUER": "issuer",
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
    "OIDC_OP_LOGOUT_ENDPOINT": "end_session_endpoint",
}


class Command(BaseCommand):
    help = "Read a provider's discovery document and print the OIDC_OP_* environment lines for Atrium."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("issuer", help="The issuer URL, e.g. https://login.example.ac.uk/realms/research")

    def handle(self, *args: Any, issuer: str, **options: Any) -> None:
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            response = requests.get(url, timeout=10)
            response.raise_for_status()
            meta = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise CommandError(f"Could not read {url}: {exc}") from exc
        if meta.get("issuer") != issuer.rstrip("/") and meta.get("issuer") != issuer:
            self.stderr.write(f"Note: the document names the issuer {meta.get('issuer')!r}; that is what tokens carry.")
        for name, key in SETTINGS.items():
            if meta.get(key):
                self.stdout.write(f"{name}={meta[key]}")
        algorithms = meta.get("id_token_signing_alg_values_supported") or []
        if algorithms and "RS256" not in algorithms:
            self.stdout.write(f"OIDC_RP_SIGN_ALGO={algorithms[0]}")
