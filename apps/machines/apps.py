from django.apps import AppConfig


class MachinesConfig(AppConfig):
    name = "apps.machines"
    label = "machines"
    verbose_name = "Machines"

    def ready(self) -> None:
        from . import quotas  # noqa: F401 - registers what machines, IPs and volumes take of the quotas
        from .live import register

        register()
