"""Training runs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from .versions import ModelVersion


class TrainingRun(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "waiting"
        RUNNING = "running", "training"
        SUCCEEDED = "succeeded", "done"
        SKIPPED = "skipped", "skipped"
        FAILED = "failed", "failed"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "schedule"
        DECISIONS = "decisions", "new decisions"
        MANUAL = "manual", "by hand"
        API = "api", "API"
        DATASET = "dataset", "dataset file"
        ALERT = "alert", "alert"
        DECISION = "decision", "a person's decision"
        UPDATES = "updates", "incremental updates"
        ACCEPTANCE = "acceptance", "acceptance fell"
        DRIFT = "drift", "drift"
        THRESHOLD = "threshold", "enough tagged links"

    class Kind(models.TextChoices):
        FULL = "full", "full retrain"
        INCREMENTAL = "incremental", "incremental update"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    # The shared model's runs have no owner; a personal model's runs name their user.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.FULL)
    reason = models.TextField(blank=True, help_text="why it ran: the rule of the policy that called it")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    design = models.CharField(max_length=40, blank=True)
    dataset = models.CharField(max_length=500, blank=True)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    fingerprint = models.CharField(max_length=64, blank=True)
    version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="training_runs"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "kind", "created_at"])]

    def __str__(self) -> str:
        return f"training run {self.pk} ({self.trigger}, {self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.SKIPPED, self.Status.FAILED)
