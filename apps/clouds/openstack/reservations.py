"""The OpenStack reservations family (Blazar): leases of hosts or instances.

Host capacity is for cloud admins only on OpenStack, so `hosts` stays Unsupported."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from .. import dto
from ..base import require_aware
from ..errors import BadInput, CloudError
from . import sdk
from .base import OpenStackBase
from .convert import blazar_time, lease_dto
from .sdk import ksa_errors, translate_errors


class OpenStackReservations(OpenStackBase):
    @functools.cached_property
    def _blazar(self) -> sdk.Adapter:
        if not self.capabilities().leases:
            self._unsupported("reservations")
        return sdk.adapter(self._conn, service_type="reservation")

    def _blazar_call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self._blazar.request(path, method, json=body, raise_exc=True)
        if response.status_code == 204 or not response.content:
            return {}
        data = response.json()
        return data if isinstance(data, dict) else {}

    @translate_errors
    def leases(self) -> list[dto.Lease]:
        return [lease_dto(lease) for lease in self._blazar_call("GET", "/leases").get("leases", [])]

    @translate_errors
    def lease_get(self, *, lease_id: str) -> dto.Lease:
        return lease_dto(self._blazar_call("GET", f"/leases/{lease_id}")["lease"])

    @translate_errors
    def lease_create(
        self, *, name: str, start: datetime, end: datetime, reservations: Sequence[dto.ReservationRequest]
    ) -> dto.Lease:
        require_aware(start=start, end=end)
        if end <= start:
            raise BadInput("A lease must end after it starts.", fields={"end": ["Before the start."]})
        if not reservations:
            raise BadInput("A lease must reserve something: hosts or instances of a size.")
        body_reservations = []
        for request in reservations:
            if request.count < 1:
                raise BadInput("Each reservation needs a count of at least 1.", fields={"count": ["At least 1."]})
            if request.kind == dto.ReservationKind.HOST:
                body_reservations.append(
                    {
                        "resource_type": "physical:host",
                        "min": request.count,
                        "max": request.count,
                        "hypervisor_properties": "",
                        "resource_properties": "",
                    }
                )
            else:
                size = self.size_get(size_id=request.size_id or "")
                body_reservations.append(
                    {
                        "resource_type": "virtual:instance",
                        "amount": request.count,
                        "vcpus": size.cpus,
                        "memory_mb": size.ram_mb,
                        "disk_gb": size.disk_gb,
                        "affinity": False,
                        "resource_properties": "",
                    }
                )
        # Blazar takes minutes and refuses a start in the past: a start within the
        # next minute is "now", which it takes as such.
        starts_now = start <= datetime.now(UTC) + timedelta(minutes=1)
        body = {
            "name": name,
            "start_date": "now" if starts_now else blazar_time(start),
            "end_date": blazar_time(end),
            "reservations": body_reservations,
            "events": [],
        }
        try:
            return lease_dto(self._blazar_call("POST", "/leases", body)["lease"])
        except ksa_errors.InternalServerError as exc:
            translated = sdk.translate(exc)
            if type(translated) is not CloudError or not self._application_credential:
                # Blazar answers 500 for more than one thing; "not enough hosts" (and
                # anything else the translation recognises) is what it says it is.
                raise translated from exc
            # Blazar makes a Keystone trust for every lease; Keystone refuses that to
            # application-credential tokens unless the operator allows it, and Blazar
            # answers only "500". Say what is likely wrong instead.
            raise CloudError(
                "The reservation service could not create the lease. It needs a Keystone trust, which "
                "this project's application credential may not make on this cloud; an operator must "
                "allow it (Keystone's [security_compliance] allow_insecure_application_credential_trust_escalation) "
                "or give the tenancy other credentials."
            ) from exc

    @translate_errors
    def lease_update(self, *, lease_id: str, end: datetime) -> dto.Lease:
        require_aware(end=end)
        return lease_dto(self._blazar_call("PUT", f"/leases/{lease_id}", {"end_date": blazar_time(end)})["lease"])

    @translate_errors
    def lease_delete(self, *, lease_id: str) -> None:
        self._blazar_call("DELETE", f"/leases/{lease_id}")
