"""`atrium_machine`: a machine made through the tenancy's driver, written as Atrium's Machine row.

Its name, size, image and SSH key cannot change on the cloud: changing one replaces the machine.
A create waits until the machine is ACTIVE (at most `create_timeout` seconds, by default
ATRIUM_MACHINE_TIMEOUT); one that ends otherwise is reported, and Terraform replaces it next time.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from tf.schema import Attribute, Schema  # type: ignore[import-untyped]
from tf.types import Number, String  # type: ignore[import-untyped]

from apps.accounts.models import SshPublicKey
from apps.clouds import dto
from apps.clouds.base import machine_name_clean
from apps.clouds.errors import BadInput, CloudError, NotFound
from apps.core.resources.services import changed, row_delete, task_set
from apps.machines.jobs.firewall import firewall_read
from apps.machines.jobs.machines import keypair_ensure, server_create
from apps.machines.models import Machine, Volume
from apps.machines.services import machine_observe

from .provider import AtriumResource, State, idle_after, job_log, reported, settle

S = dto.MachineStatus


class MachineResource(AtriumResource):
    kind = "machine"
    schema = Schema(
        description="A virtual machine on the tenancy's cloud (Atrium's machine row).",
        attributes=[
            Attribute("id", String(), computed=True, description="The cloud's id of the machine."),
            Attribute("name", String(), required=True, requires_replace=True),
            Attribute("size_id", String(), required=True, requires_replace=True, description="A size's id."),
            Attribute("image_id", String(), required=True, requires_replace=True, description="An image's id."),
            Attribute(
                "ssh_public_key",
                String(),
                optional=True,
                requires_replace=True,
                description="An OpenSSH public key put on the machine (imported as a key pair).",
            ),
            Attribute("create_timeout", Number(), optional=True, description="Seconds a create waits for ACTIVE."),
            Attribute("status", String(), computed=True),
            Attribute("internal_ip", String(), computed=True),
            Attribute("external_ip", String(), computed=True),
        ],
    )

    def validate(self, diags: Any, type_name: str, config: State) -> None:
        super().validate(diags, type_name, config)
        name = config.get("name")
        if isinstance(name, str):
            try:
                if machine_name_clean(name) != name:
                    diags.add_error("A machine's name has no spaces around it.", path=["name"])
            except BadInput as exc:
                diags.add_error(exc.message, path=["name"])

    @reported(keep_prior=False)
    def create(self, ctx: Any, planned: State) -> State | None:
        tenancy, driver = self.tenancy, self.driver
        name = planned["name"]
        if Machine.objects.filter(tenancy=tenancy, name=name).exists():
            raise BadInput(f"{tenancy.name} already has a machine called {name}.", fields={"name": ["Taken."]})
        try:
            image = driver.image_get(image_id=planned["image_id"])
            size = driver.size_get(size_id=planned["size_id"])
        except NotFound as exc:
            raise BadInput(exc.message) from None
        machine = Machine.objects.create(
            tenancy=tenancy,
            name=name,
            status=S.BUILD,
            task="building",
            image_id=image.id,
            image_name=image.name,
            size_id=size.id,
            size_name=size.name,
            cpus=size.cpus,
            ram_mb=size.ram_mb,
            disk_gb=size.disk_gb,
        )
        changed(machine, created=True)
        try:
            key = planned.get("ssh_public_key")
            key_name = keypair_ensure(job_log(), driver, SshPublicKey(name=name, public_key=key)) if key else None
            seen = server_create(driver, machine, key_name)
        except CloudError:
            row_delete(machine)  # nothing was made: no row either
            raise
        machine_observe(machine=machine, seen=seen)
        timeout = float(planned.get("create_timeout") or settings.ATRIUM_MACHINE_TIMEOUT)
        try:
            seen = settle(
                lambda: self._look(machine),
                lambda m: not m.status.is_transitional,
                what=f"Building {name}",
                timeout=timeout,
            )
            if seen.status != S.ACTIVE:
                raise CloudError(f"The cloud could not build {name}: {seen.fault or 'it ended ' + seen.status.value}.")
            if driver.capabilities().firewall:
                firewall_read(job_log(), driver, machine)
        except CloudError as exc:
            # The machine exists: Terraform keeps it (tainted) and replaces it on the next apply.
            ctx.diagnostics.add_error(f"{ctx.type_name}: {exc.message}")
        finally:
            task_set(machine, "")
        return _state(machine, planned)

    def _look(self, machine: Machine) -> dto.Machine:
        seen = self.driver.machine_get(machine_id=machine.cloud_id)
        machine_observe(machine=machine, seen=seen)
        return seen

    @reported(keep_prior=True)
    def read(self, ctx: Any, current: State) -> State | None:
        seen = self.refreshed(
            Machine,
            current["id"],
            lambda: self.driver.machine_get(machine_id=current["id"]),
            lambda machine, seen: machine_observe(machine=machine, seen=seen),
        )
        return None if seen is None else current | _seen(seen)

    @reported(keep_prior=True)
    def update(self, ctx: Any, current: State, planned: State) -> State | None:
        # Only `create_timeout` changes in place (everything else replaces the machine).
        return planned | {name: current[name] for name in ("id", "status", "internal_ip", "external_ip")}

    @reported(keep_prior=True)
    def delete(self, ctx: Any, current: State) -> State | None:
        cloud_id = current["id"]
        machine = self.row(Machine, cloud_id)
        with idle_after(machine):
            if machine is not None:
                task_set(machine, "deleting")
            try:
                self.driver.machine_delete(machine_id=cloud_id, pause=time.sleep)
            except NotFound:
                pass
            else:
                settle(
                    lambda: self._gone(cloud_id),
                    bool,
                    what=f"Deleting {current['name']}",
                    timeout=float(settings.ATRIUM_MACHINE_TIMEOUT),
                )
        if machine is not None:
            # As the delete job does: its volumes are left available.
            volumes = list(Volume.objects.filter(machine=machine))
            Volume.objects.filter(machine=machine).update(machine=None, device="", status=dto.VolumeStatus.AVAILABLE)
            row_delete(machine)
            for volume in volumes:
                changed(volume)
        return None

    def _gone(self, cloud_id: str) -> bool:
        try:
            self.driver.machine_get(machine_id=cloud_id)
        except NotFound:
            return True
        return False


def _seen(seen: dto.Machine) -> State:
    return {"status": seen.status.value, "internal_ip": seen.internal_ip, "external_ip": seen.external_ip}


def _state(machine: Machine, planned: State) -> State:
    return planned | {
        "id": machine.cloud_id,
        "status": machine.status,
        "internal_ip": machine.internal_ip,
        "external_ip": machine.external_ip,
    }
