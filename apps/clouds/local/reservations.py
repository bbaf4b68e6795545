"""The local cloud's reservations family: host capacity and leases of a pool of
reservable hosts, as Blazar's."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from .. import dto
from ..base import require_aware
from ..errors import BadInput, InvalidOperation
from ..models import LocalAllocation, LocalHost, LocalLease, LocalReservation, LocalSize
from .base import LocalBase, operation
from .capacity import allocate, allocation_need, fits, host_free, host_free_now
from .convert import lease_dto, lease_status


class LocalReservations(LocalBase):
    @operation
    def hosts(self) -> list[dto.Host]:
        result = []
        for host in LocalHost.objects.filter(cloud_id=self.cloud_id):
            free = host_free_now(host)
            result.append(
                dto.Host(
                    id=host.uid,
                    name=host.name,
                    total=dto.Capacity(cpus=host.cpus, ram_mb=host.ram_mb, disk_gb=host.disk_gb),
                    used=dto.Capacity(
                        cpus=host.cpus - free.cpus,
                        ram_mb=host.ram_mb - free.ram_mb,
                        disk_gb=host.disk_gb - free.disk_gb,
                    ),
                    reservable=host.reservable,
                    extra={"gpus": host.gpus},
                )
            )
        return result

    def _lease(self, lease_id: str) -> LocalLease:
        return self._project_row(self._project_rows(LocalLease), lease_id, "lease")

    @operation
    def leases(self) -> list[dto.Lease]:
        queryset = self._project_rows(LocalLease).prefetch_related("reservations__size")
        return [lease_dto(lease) for lease in queryset]

    @operation
    def lease_get(self, *, lease_id: str) -> dto.Lease:
        return lease_dto(self._lease(lease_id))

    @operation
    def lease_create(
        self, *, name: str, start: datetime, end: datetime, reservations: Sequence[dto.ReservationRequest]
    ) -> dto.Lease:
        require_aware(start=start, end=end)
        name = (name or "").strip()
        if not name or len(name) > 100:
            raise BadInput("A lease needs a name of 1 to 100 characters.", fields={"name": ["1 to 100 characters."]})
        now = timezone.now()
        if start < now - timedelta(minutes=5):
            raise BadInput("A lease cannot start in the past.", fields={"start": ["In the past."]})
        if end <= start:
            raise BadInput("A lease must end after it starts.", fields={"end": ["Before the start."]})
        if not reservations:
            raise BadInput("A lease must reserve something: hosts or instances of a size.")
        sizes: list[LocalSize | None] = []
        for request in reservations:
            if request.count < 1:
                raise BadInput("Each reservation needs a count of at least 1.", fields={"count": ["At least 1."]})
            size = None
            if request.kind == dto.ReservationKind.INSTANCE:
                size = LocalSize.objects.filter(cloud_id=self.cloud_id, uid=request.size_id or "").first()
                if size is None:
                    raise BadInput(
                        f"There is no size {request.size_id} on this cloud to reserve.",
                        fields={"size_id": ["Unknown size."]},
                    )
            sizes.append(size)
        with transaction.atomic():
            list(LocalHost.objects.select_for_update().filter(cloud_id=self.cloud_id))  # one lease decision at a time
            lease = LocalLease.objects.create(
                cloud_id=self.cloud_id, project_id=self.project_id, name=name, start=start, end=end
            )
            for request, size in zip(reservations, sizes, strict=True):
                reservation = LocalReservation.objects.create(
                    lease=lease, kind=str(request.kind), count=request.count, size=size
                )
                allocate(reservation)
        return lease_dto(lease)

    @operation
    def lease_update(self, *, lease_id: str, end: datetime) -> dto.Lease:
        require_aware(end=end)
        with transaction.atomic():
            list(LocalHost.objects.select_for_update().filter(cloud_id=self.cloud_id))
            lease = self._lease(lease_id)
            if lease_status(lease) == dto.LeaseStatus.TERMINATED:
                raise InvalidOperation(f"The lease {lease.name} has ended; it cannot be changed.")
            if end <= max(lease.start, timezone.now()):
                raise BadInput("A lease must end after it starts and after now.", fields={"end": ["Too early."]})
            if end > lease.end:
                for allocation in LocalAllocation.objects.filter(reservation__lease=lease).select_related(
                    "host", "reservation__size"
                ):
                    whole, free = host_free(allocation.host, lease.end, end, exclude=lease)
                    need = allocation_need(allocation)
                    if whole or not fits(free, need):
                        raise InvalidOperation(
                            f"The lease cannot be extended to {end:%Y-%m-%d %H:%M}: host {allocation.host.name} "
                            "is reserved by another lease by then."
                        )
            lease.end = end
            lease.save(update_fields=["end"])
        return lease_dto(lease)

    @operation
    def lease_delete(self, *, lease_id: str) -> None:
        lease = self._lease(lease_id)
        if lease_status(lease) == dto.LeaseStatus.ACTIVE:
            lease.end = timezone.now()
            lease.save(update_fields=["end"])
            lease.machines.all().delete()
        else:
            lease.delete()
