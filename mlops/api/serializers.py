"""Serializers of the tag model's API."""

from __future__ import annotations

from rest_framework import serializers

from ..models import MetricPoint, ModelVersion, Stage, StageEvent, Suggestion, TagDecision, TrainingRun


class SuggestionSerializer(serializers.ModelSerializer):
    tag = serializers.CharField(source="tag_name")
    model_version = serializers.IntegerField(source="model_version.number")

    class Meta:
        model = Suggestion
        fields = ["id", "tag", "score", "status", "model_version", "explanation", "created_at", "decided_at"]


class DecisionInSerializer(serializers.Serializer):
    tag = serializers.CharField(max_length=100)
    action = serializers.ChoiceField(choices=["accept", "reject", "add", "remove"])
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class DecisionSerializer(serializers.ModelSerializer):
    link = serializers.IntegerField(source="link_id")
    tag = serializers.CharField(source="tag_name")
    actor = serializers.CharField(source="actor_name")
    suggestion = serializers.IntegerField(source="suggestion_id", allow_null=True)
    model_version = serializers.SerializerMethodField()

    class Meta:
        model = TagDecision
        fields = [
            "id",
            "link",
            "tag",
            "action",
            "actor",
            "reason",
            "source",
            "suggestion",
            "model_version",
            "at",
        ]

    def get_model_version(self, obj: TagDecision) -> int | None:
        numbers = self.context.get("version_numbers") or {}
        return numbers.get(obj.model_version_id) if obj.model_version_id else None


class StageEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name")

    class Meta:
        model = StageEvent
        fields = ["from_stage", "to_stage", "actor", "automatic", "reason", "at"]


class ModelVersionSerializer(serializers.ModelSerializer):
    parent = serializers.IntegerField(  # type: ignore[assignment]
        source="parent.number", allow_null=True, default=None
    )
    labels = serializers.SerializerMethodField()
    stage_events = StageEventSerializer(many=True, read_only=True)
    lineage = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = [
            "number",
            "design",
            "stage",
            "stage_changed_at",
            "created_at",
            "metrics",
            "gate",
            "labels",
            "lineage",
            "parent",
            "stage_events",
        ]

    def get_labels(self, obj: ModelVersion) -> list[str]:
        return list(obj.labels)

    def get_lineage(self, obj: ModelVersion) -> dict:
        return {
            "artifact_sha256": obj.artifact_sha256,
            "artifact_size": obj.artifact_size,
            "format_version": obj.format_version,
            "sklearn_version": obj.sklearn_version,
            "python_version": obj.python_version,
            "code_version": obj.code_version,
            "params": obj.params,
            "data_fingerprint": obj.data_fingerprint,
            "data_summary": obj.data_summary,
            "holdout_fingerprint": obj.holdout_fingerprint,
            "train_seconds": obj.train_seconds,
        }


class PromoteSerializer(serializers.Serializer):
    stage = serializers.ChoiceField(choices=[s for s in Stage.values])
    reason = serializers.CharField(max_length=2000)


class RollbackSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class TrainSerializer(serializers.Serializer):
    design = serializers.CharField(required=False, allow_blank=True, default="", max_length=40)


class TrainingRunSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="version.number", allow_null=True, default=None)

    class Meta:
        model = TrainingRun
        fields = [
            "id",
            "status",
            "trigger",
            "design",
            "done",
            "total",
            "message",
            "fingerprint",
            "version",
            "created_at",
            "started_at",
            "finished_at",
        ]


class MetricPointSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="model_version.number", allow_null=True, default=None)

    class Meta:
        model = MetricPoint
        fields = ["name", "version", "value", "count", "window_start", "window_end", "labels", "recorded_at"]
