"""What the tag model exports to Prometheus at scrape time: its production version, online
acceptance, drift, data quality and open alerts, each read with one cheap query. Registered with
the web app's /metrics in ``MlopsConfig.ready`` (the catalogue is in ``linkhub/metrics.py``)."""

from __future__ import annotations

from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

from linkhub.metrics import gauges_register

from .models import AlertEvent, DriftResult, DriftRun, MetricPoint, ModelVersion, Stage


def _production() -> list[Metric]:
    version = GaugeMetricFamily(
        "linkhub_model_production_version", "Number of the tag model version in production."
    )
    age = GaugeMetricFamily(
        "linkhub_model_production_age_seconds", "Seconds since the production version entered production."
    )
    row = (
        ModelVersion.objects.shared()
        .filter(stage=Stage.PRODUCTION)
        .order_by("-stage_changed_at")
        .values_list("number", "stage_changed_at")
        .first()
    )
    if row is not None:
        number, since = row
        version.add_metric([], number)
        age.add_metric([], max(0.0, (timezone.now() - since).total_seconds()))
    return [version, age]


def _acceptance() -> list[Metric]:
    family = GaugeMetricFamily(
        "linkhub_model_online_acceptance_rate",
        "Latest online acceptance rate of the version in each stage.",
        labels=["stage"],
    )
    for stage in (Stage.PRODUCTION, Stage.CANARY):
        value = (
            MetricPoint.objects.filter(name="online_acceptance_rate", model_version__stage=stage)
            .order_by("-recorded_at", "-id")
            .values_list("value", flat=True)
            .first()
        )
        if value is not None:
            family.add_metric([str(stage)], value)
    return [family]


def _drift() -> list[Metric]:
    score = GaugeMetricFamily(
        "linkhub_drift_score",
        "Drift statistic of each feature in the latest finished drift run.",
        labels=["feature", "method"],
    )
    detected = GaugeMetricFamily(
        "linkhub_drift_detected",
        "1 when the feature drifted in the latest finished drift run, else 0.",
        labels=["feature"],
    )
    quality = GaugeMetricFamily(
        "linkhub_data_quality", "Data-quality checks of the latest finished drift run.", labels=["check"]
    )
    latest = DriftRun.objects.filter(status="done").order_by("-created_at", "-id").values("pk")[:1]
    rows = DriftResult.objects.filter(run_id__in=latest).values_list(
        "feature", "kind", "method", "statistic", "drifted"
    )
    for feature, kind, method, statistic, drifted in rows:
        if kind == "quality":
            if statistic is not None:
                quality.add_metric([feature], statistic)
            continue
        detected.add_metric([feature], 1.0 if drifted else 0.0)
        if statistic is not None:
            score.add_metric([feature, method], statistic)
    return [score, detected, quality]


def _alerts() -> list[Metric]:
    counts = dict(
        AlertEvent.objects.filter(state__in=["firing", "acknowledged"])
        .order_by()  # group by severity only, not by the default ordering too
        .values("rule__severity")
        .annotate(n=Count("pk"))
        .values_list("rule__severity", "n")
    )
    family = GaugeMetricFamily(
        "linkhub_alerts_open", "Open (firing or acknowledged) in-app alerts.", labels=["severity"]
    )
    for severity in sorted({"info", "warning", "critical", *counts}):
        family.add_metric([severity], counts.get(severity, 0))
    return [family]


def register() -> None:
    for source in (_production, _acceptance, _drift, _alerts):
        gauges_register(f"mlops{source.__name__}", source)
