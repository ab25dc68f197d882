from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from ..models import FailureReason, Snapshot


class SnapshotSerializer(serializers.ModelSerializer):
    # As the page gave them, and empty until the capture finishes: not always absolute URIs.
    final_url = serializers.CharField(read_only=True)
    canonical_url = serializers.CharField(read_only=True)
    favicon_url = serializers.CharField(read_only=True)
    preview_image_url = serializers.CharField(read_only=True)
    failure_reason = serializers.ChoiceField(choices=FailureReason.choices, allow_blank=True, read_only=True)
    failure_message = serializers.CharField(read_only=True)
    is_good = serializers.BooleanField(read_only=True)
    artifacts = serializers.SerializerMethodField()

    class Meta:
        model = Snapshot
        fields = (
            "id",
            "link",
            "version",
            "status",
            "source",
            "url",
            "final_url",
            "redirect_chain",
            "http_status",
            "content_type",
            "title",
            "description",
            "language",
            "canonical_url",
            "favicon_url",
            "preview_image_url",
            "text_length",
            "failure_reason",
            "failure_detail",
            "failure_message",
            "suspect_reason",
            "is_good",
            "attempts",
            "max_attempts",
            "provenance",
            "requested_at",
            "started_at",
            "finished_at",
            "artifacts",
        )
        read_only_fields = fields

    def get_artifacts(self, obj: Snapshot) -> dict[str, dict]:
        request = self.context.get("request")
        out = {}
        for row in obj.snapshot_artifacts.all():
            if row.name == "upload.html":
                continue
            path = reverse("api-snapshot-artifact", args=[obj.pk, row.name])
            out[row.name] = {
                "url": request.build_absolute_uri(path) if request else path,
                "size": row.artifact.size,
                "sha256": row.artifact.sha256,
                "content_type": row.artifact.content_type,
            }
        return out


class SnapshotUploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=False)


class ScheduleSerializer(serializers.Serializer):
    every_days = serializers.IntegerField(min_value=0, max_value=3650, allow_null=True)
