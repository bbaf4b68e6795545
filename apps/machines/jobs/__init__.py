"""Machine, external IP, volume and firewall jobs, one module per resource, and the machines
part of the tenancy sync (`sync`). Importing this package registers every kind and the hook."""

from . import firewall, ips, machines, sync, volumes
from .machines import ATRIUM_MACHINE_KEY

__all__ = ["ATRIUM_MACHINE_KEY", "firewall", "ips", "machines", "sync", "volumes"]
