from importlib import import_module

from django.apps import AppConfig
from django.conf import settings
from django.utils.module_loading import autodiscover_modules


class JobsConfig(AppConfig):
    name = "apps.jobs"
    label = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        # Every app's jobs.py registers its job kinds (and tenancy sync hooks),
        # plus any extra modules named in ATRIUM_JOB_MODULES (tests use it).
        autodiscover_modules("jobs")
        for module in settings.ATRIUM_JOB_MODULES:
            import_module(module)
