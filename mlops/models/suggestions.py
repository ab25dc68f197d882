"""Tags the model suggested for links, and the admin's review queue of them."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from linkhub.audit import loose_ref

from .versions import ModelVersion


class Suggestion(models.Model):
    class Source(models.TextChoices):
        SHARED = "shared", "shared model"
        PERSONAL = "personal", "personal model"
        ZERO_SHOT = "zero-shot", "zero-shot"

    class Status(models.TextChoices):
        PROPOSED = "proposed", "proposed"
        ACCEPTED = "accepted", "accepted"
        REJECTED = "rejected", "rejected"
        AUTO_APPLIED = "auto_applied", "auto-applied"
        REVERTED = "reverted", "reverted"
        EXPIRED = "expired", "expired"

    link = models.ForeignKey("links.Link", on_delete=models.CASCADE, related_name="suggestions")
    tag_name = models.CharField(max_length=100)
    tag_key = models.CharField(max_length=200, db_index=True)
    score = models.FloatField()
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="suggestions")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PROPOSED, db_index=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.SHARED, db_index=True)
    # A tag from the shared model's vocabulary that the user does not have yet: shown as new,
    # never auto-applied.
    new_tag = models.BooleanField(default=False)
    # Shadow output is stored and measured, never shown or applied.
    visible = models.BooleanField(default=True)
    explanation = models.JSONField(default=list, blank=True)  # [[term, weight], ...]
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    # The audited decision that answered it (links.TagDecision).
    decision = loose_ref("links.TagDecision", optional=True)

    class Meta:
        ordering = ["-score"]
        constraints = [
            models.UniqueConstraint(
                fields=["link", "tag_key", "model_version"], name="suggestion_unique_per_version"
            )
        ]
        indexes = [models.Index(fields=["status", "visible", "score"])]

    def __str__(self) -> str:
        return f"{self.tag_name} ({self.score:.2f}, v{self.model_version.number}, {self.status})"


class ReviewQueueItem(Suggestion):
    """The review queue's rows: open, visible suggestions, most uncertain first. A proxy (no
    table of its own), so that the queue has its own admin next to the list of all suggestions."""

    class Meta:
        proxy = True
        verbose_name = "review queue item"
        verbose_name_plural = "review queue"
