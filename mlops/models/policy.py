"""The deployment's rules for the model, and the audited history of their edits."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from linkhub.audit import AppendOnly, loose_ref


class Policy(models.Model):
    """The deployment's rules for the model, edited by model owners (one row, pk=1)."""

    auto_apply_threshold = models.FloatField(default=0.9)
    suggest_threshold = models.FloatField(default=0.35)
    max_suggestions = models.PositiveSmallIntegerField(default=5)
    min_examples = models.PositiveIntegerField(default=3)
    global_tags = models.JSONField(default=list, blank=True)  # suggested to everyone
    # Every user: zero-shot, new tags from the shared model, personal models (docs/tag-model.md).
    personal_threshold = models.FloatField(
        default=0.25, help_text="personal-model suggestions (blended) at or above this"
    )
    blend_shared_weight = models.FloatField(
        default=0.3, help_text="the shared model's weight where it and the user's own model both score a tag"
    )
    zero_shot_threshold = models.FloatField(
        default=0.35, help_text="zero-shot suggestions (tag names against the link) at or above this"
    )
    new_tags_below = models.PositiveIntegerField(
        default=20, help_text="users with fewer tags than this are offered new tags from the shared model"
    )
    new_tags_max = models.PositiveSmallIntegerField(
        default=2, help_text="at most this many new tags per link (0: none)"
    )
    new_tag_threshold = models.FloatField(default=0.4, help_text="shared-model score a new tag needs")
    personal_min_links = models.PositiveIntegerField(
        default=10, help_text="tagged links a user needs before their personal model is trained"
    )
    personal_retrain_after_updates = models.PositiveIntegerField(
        default=50, help_text="full retrain of a personal model after this many incremental updates"
    )
    personal_retrain_days = models.PositiveIntegerField(
        default=7, help_text="full retrain of a personal model older than this (days), if it has new data"
    )
    personal_acceptance_window = models.PositiveIntegerField(
        default=20, help_text="decisions a personal version needs before its acceptance rate is judged"
    )
    personal_acceptance_drop = models.FloatField(
        default=0.15,
        help_text="acceptance below the previous version's by more: roll back (no previous: retrain)",
    )
    personal_retrain_on_drift = models.BooleanField(
        default=True, help_text="a drift alarm on the shared data retrains every personal model"
    )
    personal_gate_links = models.PositiveIntegerField(
        default=20, help_text="a user's most recent tagged links, held out to gate a new personal version"
    )
    # Training.
    retrain_after_decisions = models.PositiveIntegerField(default=200)
    # Promotion gate: better on the primary metric by the margin, no worse than the tolerance elsewhere.
    primary_metric = models.CharField(max_length=40, default="recall_at_3")
    gate_margin = models.FloatField(default=0.005)
    gate_tolerance = models.FloatField(default=0.02)
    # Roll-out.
    shadow_min_links = models.PositiveIntegerField(default=50)
    canary_percent = models.PositiveSmallIntegerField(default=20)
    canary_min_decisions = models.PositiveIntegerField(default=30)
    canary_max_drop = models.FloatField(default=0.05)  # acceptance below production's by more: roll back
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "policy"

    def __str__(self) -> str:
        return (
            f"auto-apply >= {self.auto_apply_threshold}, suggest >= {self.suggest_threshold}, "
            f"min {self.min_examples} examples"
        )


class PolicyChange(AppendOnly):
    actor = loose_ref(settings.AUTH_USER_MODEL, optional=True, blank=False)
    actor_name = models.CharField(max_length=150)
    changes = models.JSONField()  # {field: [old, new]}
    reason = models.TextField()
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.actor_name} changed {', '.join(self.changes)} at {self.at:%Y-%m-%d %H:%M}"
