"""The compute family: images, sizes, quotas, machines, their consoles and key pairs."""

from __future__ import annotations

import abc
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from apps.core.names import name_clean

from .. import dto
from ..errors import BadInput
from .core import DriverCore, Pause, unsupported_as


def machine_name_clean(name: str | None) -> str:
    """The name a machine may have on every cloud we drive: 1 to 255 characters, none
    of them control or invisible ones (apps.core.names)."""
    return name_clean(name, max_length=255, error=BadInput, what="machine name")


class ComputeDriver(DriverCore):
    #: console_log and console: `machine_console_log`, `machine_console`; keypairs: `keypair_*`.
    capability_flags: ClassVar[tuple[str, ...]] = ("console_log", "console", "keypairs")

    # Images, sizes, quotas ----------------------------------------------------------------

    @abc.abstractmethod
    def images(self) -> list[dto.Image]: ...

    @abc.abstractmethod
    def image_get(self, *, image_id: str) -> dto.Image: ...

    @abc.abstractmethod
    def sizes(self) -> list[dto.Size]: ...

    @abc.abstractmethod
    def size_get(self, *, size_id: str) -> dto.Size: ...

    @abc.abstractmethod
    def quotas(self) -> list[dto.Quota]: ...

    # Machines -------------------------------------------------------------------------

    @abc.abstractmethod
    def machines(self) -> list[dto.Machine]: ...

    @abc.abstractmethod
    def machine_get(self, *, machine_id: str) -> dto.Machine: ...

    def machine_create(
        self,
        *,
        name: str,
        image_id: str,
        size_id: str,
        network_id: str | None = None,
        key_name: str | None = None,
        user_data: str | None = None,
        metadata: Mapping[str, str] | None = None,
        lease_id: str | None = None,
        firewall_id: str | None = None,
    ) -> dto.Machine:
        """Start building a machine; it is returned in BUILD (ACTIVE or ERROR later).

        An image, size, key pair, network or firewall the project cannot use is BadInput naming
        the field (`image_id`, `network_id`, `firewall_id`...), on every cloud. A driver that offers
        firewalls starts it in the project's shared firewall (`firewall_id`, when the caller knows
        its id). The name
        is checked here, once; the
        driver's `_machine_create` gets the request as a `dto.MachineSpec`."""
        spec = dto.MachineSpec(
            name=machine_name_clean(name),
            image_id=image_id,
            size_id=size_id,
            network_id=network_id,
            key_name=key_name,
            user_data=user_data,
            metadata=dict(metadata or {}),
            lease_id=lease_id,
            firewall_id=firewall_id,
        )
        return self._machine_create(spec)

    @abc.abstractmethod
    def _machine_create(self, spec: dto.MachineSpec) -> dto.Machine:
        """Create the machine `spec` asks for (see `machine_create`)."""

    @abc.abstractmethod
    def machine_start(self, *, machine_id: str) -> dto.Machine: ...

    @abc.abstractmethod
    def machine_stop(self, *, machine_id: str) -> dto.Machine: ...

    @abc.abstractmethod
    def machine_reboot(self, *, machine_id: str, hard: bool = False) -> dto.Machine: ...

    @abc.abstractmethod
    def machine_delete(self, *, machine_id: str, pause: Pause = time.sleep) -> None:
        """Delete the machine; deleting one already gone raises NotFound. Any wait for
        the cloud (e.g. to let go of the machine's firewall) waits with `pause(seconds)`,
        so a job passes its own, which stops at once when the job is cancelled."""

    # Consoles and key pairs ---------------------------------------------------------------

    optional_operations: ClassVar[dict[str, str]] = {
        "machine_console_log": "console logs",
        "machine_console": "a web console",
        **unsupported_as("key pairs", ("keypairs", "keypair_import", "keypair_delete")),
    }

    if TYPE_CHECKING:

        def machine_console_log(self, *, machine_id: str, lines: int | None = None) -> str: ...
        def machine_console(self, *, machine_id: str) -> dto.ConsoleAccess: ...
        def keypairs(self) -> list[dto.KeyPair]: ...
        def keypair_import(self, *, name: str, public_key: str) -> dto.KeyPair: ...
        def keypair_delete(self, *, name: str) -> None: ...
