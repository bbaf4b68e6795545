"""Atrium's own Terraform provider (`registry.atrium.local/atrium/atrium`), written with the `tf`
package: machines, volumes, external IPs and firewall rules made through Atrium's driver layer
inside the provider process, each written as Atrium's own row in the tenancy.

- `provider.py`: the provider (configuration `tenancy`, optional `platform`) and what every
  resource shares (the tenancy's driver, errors as Terraform diagnostics);
- `machines.py`: `atrium_machine`; `storage.py`: `atrium_volume`; `network.py`:
  `atrium_external_ip`, `atrium_firewall_rule`;
- `main.py`: the executable Terraform starts (sets up Django from the environment it inherits);
- `install.py`: `make install` lays the provider out as a filesystem mirror and writes the
  Terraform CLI configuration that points at it.
"""

HOST = "registry.atrium.local"
NAMESPACE = "atrium"
NAME = "atrium"
VERSION = "0.1.0"
#: How a module names it: `required_providers { atrium = { source = SOURCE } }`.
SOURCE = f"{HOST}/{NAMESPACE}/{NAME}"
