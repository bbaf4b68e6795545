"""What machines, external IPs and volumes still on their way will take of the tenancy's
quotas (counted as used by apps.catalogue.quotas; registered when the app is ready)."""

from django.db.models import Sum

from apps.catalogue.quotas import register_pending
from apps.clouds import dto
from apps.tenancies.models import Tenancy

from .models import ExternalIp, Machine, Volume


@register_pending
def machines_pending_use(tenancy: Tenancy) -> dict[str, int]:
    """Rows recorded but not yet on the cloud (no cloud id, not failed): the cloud's usage does not show them yet."""
    machines = Machine.objects.filter(tenancy=tenancy, cloud_id="").exclude(status=dto.MachineStatus.ERROR)
    totals = machines.aggregate(cpus=Sum("cpus"), ram_mb=Sum("ram_mb"))
    volumes = Volume.objects.filter(tenancy=tenancy, cloud_id="").exclude(status=dto.VolumeStatus.ERROR)
    return {
        "machines": machines.count(),
        "firewalls": machines.count(),
        "cpus": totals["cpus"] or 0,
        "ram_mb": totals["ram_mb"] or 0,
        "external_ips": ExternalIp.objects.filter(tenancy=tenancy, cloud_id="").count()
        + machines.filter(want_external_ip=True).count(),
        "volumes": volumes.count(),
        "volume_gb": volumes.aggregate(gb=Sum("size_gb"))["gb"] or 0,
    }
