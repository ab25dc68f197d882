"""Serializers of the tag model's API."""

from __future__ import annotations

from rest_framework import serializers

from linkhub.links.models import TagDecision

from ..models import (
    AlertEvent,
    AlertRule,
    DriftResult,
    DriftRun,
    MetricPoint,
    ModelVersion,
    Stage,
    StageEvent,
    Suggestion,
    TrainingRun,
)


class SuggestionSerializer(serializers.ModelSerializer):
    tag = serializers.CharField(source="tag_name")
    model_version = serializers.IntegerField(
        source="model_version.number", help_text="the version's number within its model (see ``model``)"
    )
    model = serializers.CharField(
        source="model_version.label",
        help_text='which model and version: "shared v3", "personal v2", "zero-shot v1"',
    )
    source = serializers.ChoiceField(  # type: ignore[assignment]  # a field, not Field.source
        choices=Suggestion.Source.choices, help_text="shared, personal or zero-shot"
    )
    new_tag = serializers.BooleanField(
        help_text="a tag from the shared vocabulary the user does not have yet"
    )

    class Meta:
        model = Suggestion
        fields = [
            "id",
            "tag",
            "score",
            "status",
            "source",
            "model",
            "model_version",
            "new_tag",
            "explanation",
            "created_at",
            "decided_at",
        ]


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


# --- drift and alerts ---------------------------------------------------------------------------


class DriftResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = DriftResult
        fields = [
            "feature",
            "kind",
            "method",
            "statistic",
            "p_value",
            "threshold",
            "drifted",
            "n_reference",
            "n_current",
            "details",
        ]


class DriftRunSerializer(serializers.ModelSerializer):
    reference_version = serializers.IntegerField(
        source="reference_version.number", allow_null=True, default=None
    )
    requested_by = serializers.CharField(source="requested_by.username", allow_null=True, default=None)
    results = DriftResultSerializer(many=True, read_only=True)

    class Meta:
        model = DriftRun
        fields = [
            "id",
            "trigger",
            "status",
            "reference_version",
            "window_start",
            "window_end",
            "n_current",
            "drifted",
            "message",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
            "results",
        ]


class AlertRuleSerializer(serializers.ModelSerializer):
    updated_by = serializers.CharField(source="updated_by.username", allow_null=True, default=None)
    snoozed = serializers.SerializerMethodField()

    class Meta:
        model = AlertRule
        fields = [
            "id",
            "name",
            "metric",
            "comparison",
            "threshold",
            "window_minutes",
            "severity",
            "enabled",
            "snoozed_until",
            "snoozed",
            "notify_emails",
            "notify_webhook",
            "retrain_on_fire",
            "description",
            "updated_by",
            "updated_at",
        ]

    def get_snoozed(self, obj: AlertRule) -> bool:
        return obj.is_snoozed()


class AlertRuleInSerializer(serializers.Serializer):
    """A new rule (name, metric, comparison and threshold required) or the fields to change."""

    name = serializers.CharField(max_length=120, required=False)
    metric = serializers.CharField(max_length=80, required=False)
    comparison = serializers.ChoiceField(choices=AlertRule.Comparison.choices, required=False)
    threshold = serializers.FloatField(required=False)
    window_minutes = serializers.IntegerField(min_value=1, required=False)
    severity = serializers.ChoiceField(choices=AlertRule.Severity.choices, required=False)
    enabled = serializers.BooleanField(required=False)
    snoozed_until = serializers.DateTimeField(required=False, allow_null=True)
    notify_emails = serializers.ListField(child=serializers.EmailField(), required=False, max_length=20)
    notify_webhook = serializers.URLField(required=False, allow_blank=True, max_length=500)
    retrain_on_fire = serializers.BooleanField(required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class AlertRuleBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = AlertRule
        fields = ["id", "name", "metric", "comparison", "threshold", "window_minutes", "severity"]


class AlertEventSerializer(serializers.ModelSerializer):
    rule = AlertRuleBriefSerializer(read_only=True)
    acknowledged_by = serializers.CharField(source="acknowledged_by.username", allow_null=True, default=None)

    class Meta:
        model = AlertEvent
        fields = [
            "id",
            "rule",
            "state",
            "message",
            "observed",
            "breach_started_at",
            "fired_at",
            "acknowledged_at",
            "acknowledged_by",
            "resolved_at",
            "resolution",
            "notifications",
        ]


class AlertTimingsSerializer(serializers.Serializer):
    mttd_seconds = serializers.FloatField(allow_null=True, help_text="mean of fired − breach started")
    mtta_seconds = serializers.FloatField(allow_null=True, help_text="mean of acknowledged − fired")
    mttr_seconds = serializers.FloatField(allow_null=True, help_text="mean of resolved − fired")
    n = serializers.IntegerField(help_text="events fired in the period")
    n_acknowledged = serializers.IntegerField()
    n_resolved = serializers.IntegerField()


class PersonalVersionSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    model = serializers.CharField(source="label", help_text='e.g. "personal v2"')
    stage = serializers.CharField()
    created_at = serializers.DateTimeField()
    trained_on_links = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()
    artifact_size = serializers.IntegerField(help_text="bytes")

    def get_trained_on_links(self, obj: ModelVersion) -> int:
        return int((obj.data_summary or {}).get("examples") or 0)

    def get_tags(self, obj: ModelVersion) -> int:
        return len(obj.labels or [])


class PersonalStatusSerializer(serializers.Serializer):
    """Where the requesting user's suggestions come from."""

    training_consent = serializers.CharField(source="consent")
    tagged_links = serializers.IntegerField(help_text="links with a tag a person set")
    min_links = serializers.IntegerField(help_text="tagged links before a personal model is trained")
    suggestions_from = serializers.SerializerMethodField(
        help_text="personal (a personal model serves) or zero-shot (before it, or consent none)"
    )
    version = PersonalVersionSerializer(allow_null=True, help_text="the personal version serving now")
    updates = serializers.IntegerField(help_text="decisions it learned from since it was trained")
    versions = PersonalVersionSerializer(many=True, help_text="all the user's personal versions")

    def get_suggestions_from(self, obj) -> str:
        return "personal" if obj.version is not None else "zero-shot"
