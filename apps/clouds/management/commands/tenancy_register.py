from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from apps.clouds.management.base import RegisterCommand
from apps.tenancies.models import Cloud, Tenancy
from apps.tenancies.services import tenancy_create


class Command(RegisterCommand):
    help = (
        "Map a Keystone project to a tenancy (creating or updating it), optionally with the project's "
        "application credential from a clouds.yaml entry (stored encrypted)."
    )

    name_help = "The tenancy's name."

    def add_options(self, parser: ArgumentParser) -> None:
        parser.add_argument("--cloud", required=True, help="The Atrium cloud (see cloud_register).")
        parser.add_argument("--project-id", required=True, help="The Keystone project id.")
        parser.add_argument("--description", default="")
        parser.add_argument("--credentials-from", metavar="CLOUDS_YAML", help="A clouds.yaml with the credential.")
        parser.add_argument("--credentials-cloud", metavar="ENTRY", help="Its entry (an application credential).")

    def handle(self, *args: Any, name: str, cloud: str, project_id: str, description: str, **o: Any) -> None:
        target = Cloud.objects.filter(name=cloud).first()
        if target is None:
            raise CommandError(f"No cloud named {cloud!r}.")
        credentials = None
        if o.get("credentials_from"):
            if not o.get("credentials_cloud"):
                raise CommandError("--credentials-from needs --credentials-cloud.")
            from apps.clouds.openstack.sdk import clouds_yaml_entry

            with self.bad_input_refused():
                _, _, credentials = clouds_yaml_entry(o["credentials_from"], o["credentials_cloud"])
        tenancy = Tenancy.objects.filter(name=name).first()
        holder = Tenancy.objects.filter(cloud=target, project_id=project_id).exclude(name=name).first()
        if holder is not None:
            raise CommandError(f"Project {project_id} on {target.name} is already the tenancy {holder.name}.")
        try:
            if tenancy is None:
                tenancy = tenancy_create(name=name, cloud=target, project_id=project_id, description=description)
                verb = "Created"
            else:
                tenancy.cloud, tenancy.project_id = target, project_id
                tenancy.description = description or tenancy.description
                tenancy.full_clean()
                verb = "Updated"
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
        if credentials is not None:
            tenancy.credentials = credentials
        tenancy.save()
        with_credentials = f" with credentials ({', '.join(sorted(credentials))})" if credentials else ""
        self.stdout.write(f"{verb} tenancy {tenancy.name} → project {project_id} on {target.name}{with_credentials}.")
