from django.apps import AppConfig


class MachinesConfig(AppConfig):
    name = "apps.machines"
    label = "machines"
    verbose_name = "Machines"

    def ready(self) -> None:
        from .live import register

        register()
