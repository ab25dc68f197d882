"""Metric history: every value of every named metric, per version and window."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from .versions import ModelVersion


class MetricPoint(models.Model):
    """A value of a named metric at a time, optionally for one model version: the history that
    charts and alert rules read (online acceptance, offline metrics, drift, pipeline health)."""

    name = models.CharField(max_length=80)
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.CASCADE, related_name="metric_points"
    )
    value = models.FloatField()
    count = models.PositiveIntegerField(default=0)  # the sample behind the value
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["recorded_at", "id"]
        indexes = [models.Index(fields=["name", "model_version", "recorded_at"])]

    def __str__(self) -> str:
        return f"{self.name}={self.value:.4g} at {self.recorded_at:%Y-%m-%d %H:%M}"


# --- drift and data quality ---------------------------------------------------------------------
