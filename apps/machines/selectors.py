"""Reads of machines, external IPs, volumes and firewall rules, always scoped to the user's
tenancies (another tenancy's objects are NotFound). They read the database only
(the tenancy's catalogue and capabilities: apps.catalogue.selectors)."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.db.models import Prefetch, Q, QuerySet

from apps.accounts.models import User
from apps.clouds.dto import MachineStatus, VolumeStatus
from apps.core.resources.selectors import row_get, tenancy_rows
from apps.jobs.models import Job
from apps.tenancies.models import Tenancy

from .models import ExternalIp, FirewallRule, Machine, Volume

ATTACHABLE = (MachineStatus.ACTIVE.value, MachineStatus.STOPPED.value)

AnyUser = User | AnonymousUser


def machine_list(*, user: AnyUser, tenancy_id: int) -> tuple[Tenancy, QuerySet[Machine]]:
    return tenancy_rows(Machine, user=user, tenancy_id=tenancy_id, related=ROW_RELATED)


#: What a machine row of the list reads besides the machine (apps.machines.live, the list page):
#: its external IPs, as a list `row_ips` (its Actions menu offers to detach each), in one query
#: for all the rows and with no queryset made a row (a `to_attr` prefetch).
ROW_RELATED = ("created_by",)
ROW_PREFETCH = (Prefetch("ips", to_attr="row_ips"),)


def machine_get(*, user: AnyUser, tenancy_id: int, machine_id: int) -> Machine:
    _, machines = machine_list(user=user, tenancy_id=tenancy_id)
    machine: Machine = row_get(machines.select_related("tenancy__cloud"), machine_id, "No such machine.")
    return machine


def machine_search(machines: QuerySet[Machine], text: str) -> QuerySet[Machine]:
    """Machines whose name, image, size or an address contains `text`."""
    text = text.strip()
    if not text:
        return machines
    return machines.filter(
        Q(name__icontains=text)
        | Q(image_name__icontains=text)
        | Q(size_name__icontains=text)
        | Q(internal_ip__startswith=text)
        | Q(external_ip__startswith=text)
    )


def firewall_rule_list(*, user: AnyUser, tenancy_id: int, machine_id: int) -> tuple[Machine, QuerySet[FirewallRule]]:
    """A machine's firewall rules, oldest first (the machine: NotFound unless the user's tenancy's)."""
    machine = machine_get(user=user, tenancy_id=tenancy_id, machine_id=machine_id)
    return machine, FirewallRule.objects.filter(machine=machine).select_related("created_by")


def firewall_rule_get(*, user: AnyUser, tenancy_id: int, machine_id: int, rule_id: int) -> FirewallRule:
    machine, rules = firewall_rule_list(user=user, tenancy_id=tenancy_id, machine_id=machine_id)
    rule: FirewallRule = row_get(rules, rule_id, "No such firewall rule.")
    rule.machine = machine  # its tenancy and cloud are loaded already
    return rule


def external_ip_list(*, user: AnyUser, tenancy_id: int) -> tuple[Tenancy, QuerySet[ExternalIp]]:
    return tenancy_rows(ExternalIp, user=user, tenancy_id=tenancy_id, related=("machine", "created_by"))


def external_ip_get(*, user: AnyUser, tenancy_id: int, ip_id: int) -> ExternalIp:
    ip: ExternalIp = row_get(external_ip_list(user=user, tenancy_id=tenancy_id)[1], ip_id, "No such external IP.")
    return ip


def volume_list(*, user: AnyUser, tenancy_id: int) -> tuple[Tenancy, QuerySet[Volume]]:
    return tenancy_rows(Volume, user=user, tenancy_id=tenancy_id, related=("machine", "created_by"))


def volume_get(*, user: AnyUser, tenancy_id: int, volume_id: int) -> Volume:
    volume: Volume = row_get(volume_list(user=user, tenancy_id=tenancy_id)[1], volume_id, "No such volume.")
    return volume


# What can be attached, and to what: the same sets the services accept.


def machines_attachable(*, tenancy: Tenancy) -> QuerySet[Machine]:
    """Machines an IP or volume can be attached to now: on the cloud, active or stopped, idle."""
    return Machine.objects.filter(tenancy=tenancy, status__in=ATTACHABLE, task="").exclude(cloud_id="")


def external_ips_free(*, tenancy: Tenancy) -> QuerySet[ExternalIp]:
    return ExternalIp.objects.filter(tenancy=tenancy, machine__isnull=True, task="").exclude(cloud_id="")


def volumes_free(*, tenancy: Tenancy) -> QuerySet[Volume]:
    return Volume.objects.filter(tenancy=tenancy, machine__isnull=True, task="", status=VolumeStatus.AVAILABLE)


def machine_jobs(*, machine: Machine) -> QuerySet[Job]:
    """The jobs that worked on this machine, its firewall rules, or attached or detached a volume or
    an external IP to or from it, newest first (the caller has checked access). Those jobs name
    their machine in their params: the rule may be gone, the volume attached elsewhere since."""
    from django.contrib.contenttypes.models import ContentType

    types = ContentType.objects.get_for_models(Machine, FirewallRule, Volume, ExternalIp)
    parts = [types[model] for model in (FirewallRule, Volume, ExternalIp)]
    return (
        Job.objects.filter(tenancy_id=machine.tenancy_id)
        .filter(
            Q(target_type=types[Machine], target_id=str(machine.pk))
            | Q(target_type__in=parts, params__machine=machine.pk)
        )
        .select_related("requested_by")
        .order_by("-created_at", "-pk")
    )
