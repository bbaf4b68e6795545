from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.accounts.models import User
from apps.jobs.models import Job, JobLogLine, JobStage
from apps.tenancies.models import Tenancy


def person_field(help_text: str) -> "serializers.SlugRelatedField[User]":
    """Who asked for something, by user name; null when no one did (the sync, or made
    outside Atrium) or the account is gone."""
    return serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True, help_text=help_text)


class JobStageSerializer(serializers.ModelSerializer[JobStage]):
    class Meta:
        model = JobStage
        fields = ["name", "state", "started_at", "finished_at"]
        read_only_fields = fields


class JobLogLineSerializer(serializers.ModelSerializer[JobLogLine]):
    class Meta:
        model = JobLogLine
        fields = ["id", "at", "level", "message"]
        read_only_fields = fields


class JobTargetSerializer(serializers.Serializer[Job]):
    type = serializers.SerializerMethodField(help_text="app_label.model of the target, e.g. tenancies.tenancy.")
    id = serializers.CharField(source="target_id")
    name = serializers.CharField(source="target_repr")

    def get_type(self, job: Job) -> str:
        return f"{job.target_type.app_label}.{job.target_type.model}"


class JobSerializer(serializers.HyperlinkedModelSerializer[Job]):
    """A job without its log (lists)."""

    url = serializers.HyperlinkedIdentityField(view_name="api:job-detail")
    kind_label = serializers.CharField(read_only=True)
    tenancy: serializers.PrimaryKeyRelatedField[Tenancy] = serializers.PrimaryKeyRelatedField(read_only=True)
    target = serializers.SerializerMethodField()
    requested_by = person_field("Who started it; null for the periodic sync and other work no one asked for.")
    result = serializers.JSONField(read_only=True)
    stages = JobStageSerializer(many=True, read_only=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "url",
            "kind",
            "kind_label",
            "tenancy",
            "target",
            "state",
            "progress",
            "stages",
            "attempts",
            "max_attempts",
            "cancel_requested",
            "waiting_for",
            "waiting_since",
            "result",
            "error",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(JobTargetSerializer)
    def get_target(self, job: Job) -> dict[str, Any]:
        return dict(JobTargetSerializer(job).data)


class JobDetailSerializer(JobSerializer):
    """A job with its log: all lines, or those after `?log_after=<line id>`."""

    log = serializers.SerializerMethodField()

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "log"]
        read_only_fields = fields

    @extend_schema_field(JobLogLineSerializer(many=True))
    def get_log(self, job: Job) -> list[dict[str, Any]]:
        from apps.jobs.selectors import job_log_lines

        after = self.context.get("log_after", 0)
        return [dict(line) for line in JobLogLineSerializer(job_log_lines(job=job, after_id=after), many=True).data]
