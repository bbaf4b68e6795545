from django.apps import AppConfig


class TenanciesConfig(AppConfig):
    name = "apps.tenancies"
    label = "tenancies"
    verbose_name = "Tenancies"
