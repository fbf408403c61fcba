"""Serializers of the exports API."""

from django.urls import reverse
from rest_framework import serializers

from annotation.services.jobs import queue_warning
from exports.models import DatasetVersion, ExportFormat, ExportKind, ExportStatus
from exports.services.build import EXPORT_JOB


class ExportRequestSerializer(serializers.Serializer):
    """The body of ``POST /api/v1/exports``, for the OpenAPI schema; the request itself is
    checked by exports.services.requests, the same rules the admin and the command use."""

    sprints = serializers.ListField(child=serializers.IntegerField())
    kind = serializers.ChoiceField(choices=ExportKind.choices, default="preference")
    format = serializers.ChoiceField(choices=ExportFormat.choices, default="jsonl")
    filters = serializers.DictField(required=False)


class DatasetVersionSerializer(serializers.ModelSerializer):
    sprints = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    download = serializers.SerializerMethodField()
    warning = serializers.SerializerMethodField(
        help_text="Set while the build is queued but the workers are unreachable."
    )

    class Meta:
        model = DatasetVersion
        fields = [
            "id", "status", "kind", "format", "sprints", "filters", "rows", "sha256",
            "manifest", "error", "created_at", "started_at", "finished_at", "download", "warning",
        ]  # fmt: skip

    def get_warning(self, obj: DatasetVersion) -> str | None:
        if obj.status != ExportStatus.QUEUED:
            return None
        return queue_warning(EXPORT_JOB, obj.pk)

    def get_download(self, obj: DatasetVersion) -> str | None:
        if obj.status != ExportStatus.DONE:
            return None
        return self.context["request"].build_absolute_uri(
            reverse("api-export-download", args=[obj.pk])
        )
