from rest_framework import serializers

from apps.tenancies.models import Cloud, Tenancy


class CloudSummarySerializer(serializers.ModelSerializer[Cloud]):
    class Meta:
        model = Cloud
        fields = ["id", "name", "driver"]
        read_only_fields = fields


class TenancySerializer(serializers.HyperlinkedModelSerializer[Tenancy]):
    url = serializers.HyperlinkedIdentityField(view_name="api:tenancy-detail")
    cloud = CloudSummarySerializer(read_only=True)
    role = serializers.CharField(read_only=True, help_text="Your role in this tenancy: member or manager.")

    class Meta:
        model = Tenancy
        fields = ["id", "url", "name", "description", "cloud", "project_id", "role", "created_at"]
        read_only_fields = fields
