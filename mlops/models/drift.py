"""Drift and data-quality checks and their per-feature results."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from .versions import ModelVersion


class DriftRun(models.Model):
    """One check of the recent window's inputs and outputs against the production version's
    training reference, with the data-quality checks of the same window."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "schedule"
        MANUAL = "manual", "by hand"
        API = "api", "API"

    class Status(models.TextChoices):
        RUNNING = "running", "running"
        DONE = "done", "done"
        FAILED = "failed", "failed"
        SKIPPED = "skipped", "skipped"

    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING, db_index=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reference_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="drift_runs"
    )
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    n_current = models.PositiveIntegerField(default=0)  # links in the window
    message = models.TextField(blank=True)
    drifted = models.BooleanField(default=False)  # any feature drifted (data quality aside)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)  # set by the worker that claims the run
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"drift run {self.pk} ({self.trigger}, {self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status != self.Status.RUNNING


class DriftResult(models.Model):
    """One feature's check in a drift run: the method its data allowed, the statistic, the verdict."""

    class Kind(models.TextChoices):
        NUMERIC = "numeric", "numeric"
        CATEGORICAL = "categorical", "categorical"
        TEXT = "text", "text"
        PREDICTION = "prediction", "prediction"
        QUALITY = "quality", "data quality"

    class Method(models.TextChoices):
        KS = "ks", "Kolmogorov–Smirnov"
        CHI2 = "chi2", "chi-square"
        PSI = "psi", "population stability index"
        DOMAIN_CLASSIFIER = "domain_classifier", "domain classifier (ROC AUC)"
        RATE = "rate", "rate"
        INSUFFICIENT_DATA = "insufficient_data", "insufficient data"

    run = models.ForeignKey(DriftRun, on_delete=models.CASCADE, related_name="results")
    feature = models.CharField(max_length=60)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    method = models.CharField(max_length=20, choices=Method.choices)
    statistic = models.FloatField(null=True, blank=True)  # KS D, chi-square, PSI, AUC or a rate
    p_value = models.FloatField(null=True, blank=True)
    threshold = models.FloatField()  # p-value below, or statistic at or above (a rate: above)
    drifted = models.BooleanField(default=False)
    n_reference = models.PositiveIntegerField(default=0)
    n_current = models.PositiveIntegerField(default=0)
    details = models.JSONField(default=dict, blank=True)  # {"reason": why this method, ...}

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["run", "feature"], name="driftresult_unique_feature")]

    def __str__(self) -> str:
        value = "—" if self.statistic is None else f"{self.statistic:.4g}"
        return f"{self.feature}: {self.method} {value}{' (drift)' if self.drifted else ''}"


# --- alerts -------------------------------------------------------------------------------------
