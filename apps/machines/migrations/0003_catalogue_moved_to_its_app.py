"""The catalogue moved to apps.catalogue (a cache: the new table refills from the cloud)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("machines", "0002_machine_firewall"),
    ]

    operations = [
        migrations.DeleteModel(
            name="Catalogue",
        ),
    ]
