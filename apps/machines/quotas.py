"""What machines, external IPs and volumes take of the tenancy's quotas, counted from the rows
(by apps.catalogue.quotas; registered when the app is ready): those the cloud has made, and
those on their way."""

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum

from apps.catalogue.models import Catalogue
from apps.catalogue.quotas import RowsUse, register_use
from apps.clouds import dto
from apps.tenancies.models import Tenancy

from .models import ExternalIp, FirewallRule, Machine, Volume

#: Machine rows on their way: no cloud id yet, and not failed.
ON_THEIR_WAY = Q(cloud_id="") & ~Q(status=dto.MachineStatus.ERROR)


def _shared_firewall_unmade(tenancy: Tenancy) -> QuerySet[Catalogue]:
    """The tenancy's catalogue while its machines are still to make its shared firewall (a security
    group): the cloud has firewalls and no create job has found or made it. (Once one has, the
    catalogue keeps it, and the cloud's reading at the next refresh counts it.)"""
    return Catalogue.objects.filter(tenancy=tenancy, capabilities_data__firewall=True).exclude(firewall__has_key="id")


def shared_firewall_wanted(tenancy: Tenancy) -> int:
    """The security group one more machine takes for the tenancy's shared firewall: 1 when the
    shared firewall is still to make and no machine on its way makes it first (then that one
    counts it: `machines_use`). The create request and the form's projection add it. One query."""
    on_their_way = Machine.objects.filter(ON_THEIR_WAY, tenancy=tenancy)
    return int(_shared_firewall_unmade(tenancy).filter(~Exists(on_their_way)).exists())


@register_use
def machines_use(tenancy: Tenancy) -> RowsUse:
    """Rows with a cloud id are on the cloud (in any status: a server in error takes quota too);
    rows without one and not failed are on their way: the cloud's usage does not show them yet
    (nor the shared firewall the first of them makes). Three queries."""
    made, pending = Q(cloud_id__gt=""), ON_THEIR_WAY
    changing = FirewallRule.objects.filter(machine=OuterRef("pk")).exclude(task="")
    machines = Machine.objects.filter(tenancy=tenancy).aggregate(
        made=Count("pk", filter=made),
        made_cpus=Sum("cpus", filter=made),
        made_ram_mb=Sum("ram_mb", filter=made),
        # Made by Atrium with a firewall of its own (the cloud may not have said yet: None), not the shared one.
        made_firewalls=Count("pk", filter=made & Q(external=False, firewall_shared=False) & ~Q(has_firewall=False)),
        # In the shared firewall with a rule on its way: the change gives it a security group of its own.
        leaving_shared=Count("pk", filter=Q(firewall_shared=True) & Q(Exists(changing))),
        pending=Count("pk", filter=pending),
        # On their way while the shared firewall is still to make: the first job makes it.
        making_shared=Count("pk", filter=pending & Q(Exists(_shared_firewall_unmade(tenancy)))),
        pending_cpus=Sum("cpus", filter=pending),
        pending_ram_mb=Sum("ram_mb", filter=pending),
        pending_ips=Count("pk", filter=pending & Q(want_external_ip=True)),
    )
    ips = ExternalIp.objects.filter(tenancy=tenancy).aggregate(
        made=Count("pk", filter=made), pending=Count("pk", filter=Q(cloud_id=""))
    )
    vmade, vpending = Q(cloud_id__gt=""), Q(cloud_id="") & ~Q(status=dto.VolumeStatus.ERROR)
    volumes = Volume.objects.filter(tenancy=tenancy).aggregate(
        made=Count("pk", filter=vmade),
        made_gb=Sum("size_gb", filter=vmade),
        pending=Count("pk", filter=vpending),
        pending_gb=Sum("size_gb", filter=vpending),
    )
    return RowsUse(
        made={
            "machines": machines["made"],
            "firewalls": machines["made_firewalls"],
            "cpus": machines["made_cpus"] or 0,
            "ram_mb": machines["made_ram_mb"] or 0,
            "external_ips": ips["made"],
            "volumes": volumes["made"],
            "volume_gb": volumes["made_gb"] or 0,
        },
        pending={
            "machines": machines["pending"],
            # New machines join the shared firewall (made by the first of them).
            "firewalls": machines["leaving_shared"] + min(machines["making_shared"], 1),
            "cpus": machines["pending_cpus"] or 0,
            "ram_mb": machines["pending_ram_mb"] or 0,
            "external_ips": ips["pending"] + machines["pending_ips"],
            "volumes": volumes["pending"],
            "volume_gb": volumes["pending_gb"] or 0,
        },
    )
