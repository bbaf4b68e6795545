"""The embedded mode's demo data: users, tenancies and a local cloud.

Idempotent: running it again adds what is missing and changes nothing a
person has since edited (passwords included).
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from apps.accounts.models import User
from apps.clouds.local.seed import local_cloud_seed
from apps.platforms.loader import platform_types_sync
from apps.platforms.models import PlatformType
from apps.tenancies.models import Cloud, Membership, Tenancy
from apps.tenancies.services import membership_set, tenancy_create


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    tenancy: str | None
    staff: bool = False


DEMO_USERS = [
    DemoUser("physicist", "Lise", "Meitner", tenancy="Physics"),
    DemoUser("biologist", "Rosalind", "Franklin", tenancy="Biology"),
    DemoUser("operator", "Grace", "Hopper", tenancy=None, staff=True),
]
DEMO_TENANCIES = {
    "Physics": "Particle physics group: detector simulation and analysis.",
    "Biology": "Structural biology group: cryo-EM processing and sequence analysis.",
}


class DemoRefused(Exception):
    pass


@transaction.atomic
def demo_load() -> list[str]:
    """Load the demo data; returns what was created, one line each."""
    if not settings.ATRIUM_EMBEDDED:
        raise DemoRefused("Demo data is only for the embedded mode, never production.")
    created: list[str] = []
    cloud, new = Cloud.objects.get_or_create(
        name="Local cloud",
        defaults={"driver": Cloud.Driver.LOCAL, "description": "The embedded simulated cloud."},
    )
    if new:
        created.append(f"cloud {cloud.name}")
    tenancies = {}
    for name, description in DEMO_TENANCIES.items():
        tenancy = Tenancy.objects.filter(name=name).first()
        if tenancy is None:
            tenancy = tenancy_create(name=name, cloud=cloud, project_id=name.lower(), description=description)
            created.append(f"tenancy {name}")
        tenancies[name] = tenancy
    if cloud.driver == Cloud.Driver.LOCAL:
        created += local_cloud_seed(cloud, projects=[t.project_id for t in tenancies.values() if t.project_id])
    for demo in DEMO_USERS:
        user = User.objects.filter(username=demo.username).first()
        if user is None:
            user = User(
                username=demo.username,
                first_name=demo.first_name,
                last_name=demo.last_name,
                email=f"{demo.username}@example.org",
                is_staff=demo.staff,
                is_superuser=demo.staff,
            )
            user.set_password(demo.username)
            user.save()
            created.append(f"user {demo.username}")
        if demo.tenancy and not Membership.objects.filter(user=user, tenancy=tenancies[demo.tenancy]).exists():
            membership_set(tenancy=tenancies[demo.tenancy], user=user)
            created.append(f"membership {demo.username} in {demo.tenancy}")
    created += _platform_types_offer(list(tenancies.values()))
    return created


def _platform_types_offer(tenancies: list[Tenancy]) -> list[str]:
    """Load the platform types and offer those new to this database to the demo tenancies
    (a type an operator has since taken away stays away)."""
    known = set(PlatformType.objects.values_list("name", flat=True))
    platform_types_sync(retire=False)
    offered = []
    for ptype in PlatformType.objects.filter(valid=True).exclude(name__in=known):
        ptype.tenancies.add(*tenancies)
        offered.append(f"platform type {ptype.name} for {', '.join(t.name for t in tenancies)}")
    return offered
