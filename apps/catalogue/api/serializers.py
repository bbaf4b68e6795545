from typing import Any

from rest_framework import serializers


class ImageSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.CharField()
    name = serializers.CharField()
    os_distro = serializers.CharField(allow_blank=True)
    os_version = serializers.CharField(allow_blank=True)
    min_disk_gb = serializers.IntegerField()
    min_ram_mb = serializers.IntegerField()


class SizeSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.CharField()
    name = serializers.CharField()
    cpus = serializers.IntegerField()
    ram_mb = serializers.IntegerField()
    disk_gb = serializers.IntegerField()
    gpus = serializers.IntegerField()
    description = serializers.CharField(allow_blank=True)


class QuotaSerializer(serializers.Serializer[Any]):
    resource = serializers.CharField(help_text="machines, cpus, ram_mb, external_ips, volumes, volume_gb…")
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label
    limit = serializers.IntegerField(allow_null=True, help_text="Null: unlimited.")
    used = serializers.IntegerField(help_text="In use on the cloud plus what Atrium has on its way.")
    free = serializers.IntegerField(allow_null=True, help_text="Null: unlimited.")
    units = serializers.CharField(allow_blank=True)


class NetworkSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    name = serializers.CharField()
    external = serializers.BooleanField(help_text="Where external IPs come from.")
    cidr = serializers.CharField(allow_blank=True)
