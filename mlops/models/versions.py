"""Model versions and their stages, with an audited history of every change of stage."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from linkhub.audit import AppendOnly, loose_ref


class Stage(models.TextChoices):
    CANDIDATE = "candidate", "candidate"
    SHADOW = "shadow", "shadow"
    CANARY = "canary", "canary"
    PRODUCTION = "production", "production"
    RETIRED = "retired", "retired"


class Kind(models.TextChoices):
    SHARED = "shared", "shared"
    PERSONAL = "personal", "personal"
    ZERO_SHOT = "zero_shot", "zero-shot"


class ModelVersionQuerySet(models.QuerySet):
    def shared(self) -> ModelVersionQuerySet:
        """The shared model's versions (the ones that go through shadow and canary)."""
        return self.filter(kind=Kind.SHARED)

    def personal(self, owner_id: int | None = None) -> ModelVersionQuerySet:
        qs = self.filter(kind=Kind.PERSONAL)
        return qs if owner_id is None else qs.filter(owner_id=owner_id)


class ModelVersion(models.Model):
    """One trained tag model, with everything needed to trust, reproduce and compare it.

    ``kind``: the shared model (one per deployment, rolled out through shadow and canary), a
    user's personal model (``owner`` set, numbered per owner, rolled out by a per-user gate), or
    the zero-shot ranking of a user's tag names (one row per encoder, nothing trained)."""

    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.SHARED, db_index=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="personal_model_versions",
        help_text="whose personal model this is (empty for the shared and zero-shot models)",
    )
    design = models.CharField(max_length=40)
    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.CANDIDATE, db_index=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    # The artifact, content-addressed: checked against sha256 before it is loaded.
    artifact_sha256 = models.CharField(max_length=64)
    artifact_path = models.CharField(max_length=255)
    artifact_size = models.PositiveBigIntegerField(default=0)
    format_version = models.PositiveIntegerField()
    # Lineage.
    sklearn_version = models.CharField(max_length=40)
    python_version = models.CharField(max_length=40)
    code_version = models.CharField(max_length=64, blank=True)
    params = models.JSONField(default=dict, blank=True)
    labels = models.JSONField(default=list, blank=True)  # the tag names it can predict
    data_fingerprint = models.CharField(max_length=64, db_index=True)
    data_summary = models.JSONField(default=dict, blank=True)  # source, examples, decisions, users
    holdout_fingerprint = models.CharField(max_length=64, blank=True)
    # Offline metrics on the fixed holdout, per-tag quality, the gate's verdict.
    metrics = models.JSONField(default=dict, blank=True)
    per_tag = models.JSONField(default=dict, blank=True)
    gate = models.JSONField(default=dict, blank=True)
    # The training data's profile, for drift checks (mlops/training/drift.py describes it).
    reference = models.JSONField(default=dict, blank=True)
    train_seconds = models.FloatField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    stage_changed_at = models.DateTimeField(default=timezone.now)

    objects = ModelVersionQuerySet.as_manager()

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "number"],
                condition=models.Q(owner__isnull=True),
                name="version_number_unique",
            ),
            models.UniqueConstraint(
                fields=["owner", "number"],
                condition=models.Q(owner__isnull=False),
                name="personal_version_number_unique",
            ),
        ]

    def __str__(self) -> str:
        if self.kind == Kind.PERSONAL:
            return f"personal v{self.number} of user {self.owner_id} ({self.stage})"
        if self.kind == Kind.ZERO_SHOT:
            return f"zero-shot v{self.number} ({self.design})"
        return f"v{self.number} ({self.design}, {self.stage})"

    @property
    def label(self) -> str:
        """How a suggestion names the model it came from."""
        if self.kind == Kind.PERSONAL:
            return f"personal v{self.number}"
        if self.kind == Kind.ZERO_SHOT:
            return f"zero-shot v{self.number}"
        return f"shared v{self.number}"


class StageEvent(AppendOnly):
    """A change of a version's stage: who, why, when. Answers "what was in production at T"."""

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="stage_events")
    from_stage = models.CharField(max_length=12, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=12, choices=Stage.choices)
    actor = loose_ref(settings.AUTH_USER_MODEL, optional=True)
    actor_name = models.CharField(max_length=150)  # "system" for automatic changes
    automatic = models.BooleanField(default=False)
    reason = models.TextField()
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"v{self.version.number}: {self.from_stage or '-'} -> {self.to_stage} by {self.actor_name}"
