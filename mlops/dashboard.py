"""Reads for the model dashboard (``/models/dashboard/``): the series its charts draw, and the open
alerts it lists. A selector module: no writes.

Each kind of series costs one query, bounded to the last ``WINDOW_DAYS`` days and to the newest
``MAX_POINTS`` points of each series (a window function picks them in the database), so the data
costs the same number of queries for a week of hourly points as for three months of them.

Thresholds come from each feature's latest measured ``DriftResult`` of a finished drift run. One
is drawn only where it applies to the plotted value, a statistic: PSI, a domain classifier's AUC,
a rate. Kolmogorov–Smirnov and chi-square judge by their p-value, which the ``drift_<feature>``
points do not hold, so those features have no threshold line.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import groupby
from typing import Any

from django.db.models import Case, Count, F, Q, Value, When, Window
from django.db.models.functions import RowNumber, TruncDate
from django.http import Http404
from django.utils import timezone

from .models import AlertEvent, AlertRule, DriftResult, DriftRun, MetricPoint, ModelVersion, Stage, StageEvent
from .training.metric_names import HEADLINE_METRICS, metric_label

WINDOW_DAYS = 90
MAX_POINTS = 5_000  # per series
MAX_VERSIONS = 100  # on the offline chart: the newest
OPEN_ALERTS = 50

# (key, label) of the lines of the offline chart
OFFLINE_CHART: tuple[tuple[str, str], ...] = tuple((name, metric_label(name)) for name in HEADLINE_METRICS)
ONLINE_METRICS: tuple[tuple[str, str], ...] = (
    ("online_acceptance_rate", "Acceptance rate"),
    ("online_override_rate", "Override rate"),
    ("online_precision_at_3", "Precision@3"),
    ("shadow_agreement", "Shadow agreement"),
)
DRIFT_PREFIX = "drift_"
QUALITY_PREFIX = "quality_"
SEVERITIES = (AlertRule.Severity.CRITICAL, AlertRule.Severity.WARNING, AlertRule.Severity.INFO)
# Methods whose threshold is on the p-value, not on the statistic the points hold.
P_VALUE_METHODS = (DriftResult.Method.KS, DriftResult.Method.CHI2)
# A skipped run (no production reference) still ran the data-quality checks.
FINISHED_RUNS = (DriftRun.Status.DONE, DriftRun.Status.SKIPPED)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


# --- metric points ----------------------------------------------------------------------------


def _points(where: Q, *, since: datetime, per_version: bool) -> list[tuple[Any, ...]]:
    """(name, version number, version stage, recorded_at, value, count, labels) of the points
    matching ``where`` since ``since``: the newest ``MAX_POINTS + 1`` of each series (by name, and
    by version when ``per_version``), ordered by series, oldest first. One point more than is
    drawn tells ``_series`` that a series was cut."""
    partition = [F("name"), F("model_version_id")] if per_version else [F("name")]
    nth = Window(RowNumber(), partition_by=partition, order_by=[F("recorded_at").desc(), F("id").desc()])
    return list(
        MetricPoint.objects.filter(where, recorded_at__gte=since)
        .annotate(nth=nth)
        .filter(nth__lte=MAX_POINTS + 1)
        .order_by(*(["name", "model_version__number"] if per_version else ["name"]), "recorded_at", "id")
        .values_list(
            "name",
            "model_version__number",
            "model_version__stage",
            "recorded_at",
            "value",
            "count",
            "labels",
        )
    )


def _series(rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    """One series from its rows (oldest first): points, whether it was cut, the latest labels."""
    truncated = len(rows) > MAX_POINTS
    rows = rows[-MAX_POINTS:]
    return {
        "points": [[_ms(row[3]), row[4], row[5]] for row in rows],
        "truncated": truncated,
        "labels": rows[-1][6] if rows and isinstance(rows[-1][6], dict) else {},
    }


def _online(since: datetime) -> dict[str, Any]:
    names = [name for name, _ in ONLINE_METRICS]
    rows = _points(Q(name__in=names), since=since, per_version=True)
    metrics: dict[str, Any] = {name: {"label": label, "series": []} for name, label in ONLINE_METRICS}
    for (name, number, stage), group in groupby(rows, key=lambda row: (row[0], row[1], row[2])):
        series = _series(list(group))
        del series["labels"]
        metrics[name]["series"].append({"version": number, "stage": stage, **series})
    return {"order": names, "metrics": metrics}


def _drift_results() -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]:
    """Each feature's (and quality check's) latest measured result among finished drift runs:
    method, threshold, verdict; and the newest of those runs. One query."""
    latest = Window(
        RowNumber(),
        partition_by=[F("feature")],
        order_by=[F("run__finished_at").desc(nulls_last=True), F("run_id").desc(), F("id").desc()],
    )
    rows = list(
        DriftResult.objects.filter(
            run__status__in=FINISHED_RUNS, run__finished_at__isnull=False, statistic__isnull=False
        )
        .annotate(nth=latest)
        .filter(nth=1)
        .order_by("feature")
        .values_list(
            "feature", "method", "threshold", "drifted", "run_id", "run__finished_at", "run__drifted"
        )
    )
    if not rows:
        return None, {}
    by_feature = {
        feature: {
            "method": method,
            "threshold": None if method in P_VALUE_METHODS else _number(threshold),
            "drifted": bool(drifted),
        }
        for feature, method, threshold, drifted, *_ in rows
    }
    *_, run_id, finished_at, run_drifted = max(rows, key=lambda row: (row[5], row[4]))
    run = {
        "id": run_id,
        "finished_at": _ms(finished_at) if finished_at else None,
        "drifted": bool(run_drifted),
    }
    return run, by_feature


def _threshold(result: dict[str, Any], labels: dict[str, Any]) -> float | None:
    """The drift run's threshold for the series, else one its latest point's labels give, unless
    its method judges by the p-value (see the module's docstring)."""
    if result:
        return result["threshold"]
    if labels.get("method") in P_VALUE_METHODS:
        return None
    return _number(labels.get("threshold"))


def _monitored(prefix: str, since: datetime, results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``<prefix><feature>`` series, each with its threshold, method and latest verdict."""
    rows = _points(Q(name__startswith=prefix), since=since, per_version=False)
    series = []
    for name, group in groupby(rows, key=lambda row: row[0]):
        feature = name[len(prefix) :]
        one = _series(list(group))
        labels = one.pop("labels")
        result = results.get(feature, {})
        series.append(
            {
                "feature": feature,
                "method": result.get("method") or str(labels.get("method") or ""),
                "threshold": _threshold(result, labels),
                "drifted": bool(result.get("drifted")),
                **one,
            }
        )
    return series


def _drift(since: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """Drift per feature and data quality per check, with the latest drift run's thresholds."""
    run, results = _drift_results()
    drift = {"run": run, "series": _monitored(DRIFT_PREFIX, since, results)}
    quality = {"series": _monitored(QUALITY_PREFIX, since, results)}
    return drift, quality


# --- versions and stage changes ---------------------------------------------------------------


def _offline() -> dict[str, Any]:
    rows = list(
        ModelVersion.objects.shared()
        .order_by("-number")
        .values_list("number", "stage", "metrics")[:MAX_VERSIONS]
    )
    rows.reverse()
    versions = []
    for number, stage, metrics in rows:
        metrics = metrics if isinstance(metrics, dict) else {}
        versions.append(
            {
                "number": number,
                "stage": stage,
                "values": {key: _number(metrics.get(key)) for key, _ in OFFLINE_CHART},
            }
        )
    production = next((v["number"] for v in versions if v["stage"] == Stage.PRODUCTION), None)
    return {
        "metrics": [{"key": key, "label": label} for key, label in OFFLINE_CHART],
        "versions": versions,
        "production": production,
    }


def _stage_events(since: datetime) -> dict[str, Any]:
    rows = list(
        StageEvent.objects.filter(at__gte=since)
        .order_by("-at", "-id")
        .values_list("at", "version__number", "from_stage", "to_stage", "actor_name", "automatic", "reason")[
            : MAX_POINTS + 1
        ]
    )
    truncated = len(rows) > MAX_POINTS
    rows = rows[:MAX_POINTS]
    rows.reverse()
    return {
        "stages": list(Stage.values),
        "truncated": truncated,
        "events": [
            {
                "at": _ms(at),
                "version": number,
                "from": from_stage,
                "to": to_stage,
                "actor": actor,
                "automatic": automatic,
                "reason": reason,
            }
            for at, number, from_stage, to_stage, actor, automatic, reason in rows
        ],
    }


# --- alerts -----------------------------------------------------------------------------------


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _alert_counts(since: datetime, now: datetime) -> dict[str, Any]:
    """Alerts fired per day (in the current time zone) by their rule's severity, every day from
    the first one to today."""
    rows = list(
        AlertEvent.objects.filter(fired_at__gte=since)
        .annotate(day=TruncDate("fired_at"))
        .values_list("day", "rule__severity")
        .annotate(n=Count("id"))
        .order_by("day", "rule__severity")
    )
    if not rows:
        return {"days": [], "counts": {}}
    days = _days(rows[0][0], max(rows[-1][0], timezone.localdate(now)))
    index = {day: i for i, day in enumerate(days)}
    found = {severity for _, severity, _ in rows}
    order = [str(s) for s in SEVERITIES if s in found] + sorted(found - set(SEVERITIES))
    counts = {severity: [0] * len(days) for severity in order}
    for day, severity, n in rows:
        counts[severity][index[day]] += n
    return {"days": [day.isoformat() for day in days], "counts": counts}


def alerts_open(*, limit: int = OPEN_ALERTS) -> list[AlertEvent]:
    """Alerts not yet resolved: firing ones first, then the acknowledged; newest first."""
    return list(
        AlertEvent.objects.filter(state__in=AlertEvent.OPEN)
        .select_related("rule", "acknowledged_by")
        .order_by(
            Case(When(state=AlertEvent.State.FIRING, then=Value(0)), default=Value(1)), "-fired_at", "-pk"
        )[:limit]
    )


def alert_event_get(*, pk: int) -> AlertEvent:
    event = AlertEvent.objects.select_related("rule").filter(pk=pk).first()
    if event is None:
        raise Http404
    return event


def alert_rule_get(*, pk: int) -> AlertRule:
    rule = AlertRule.objects.filter(pk=pk).first()
    if rule is None:
        raise Http404
    return rule


# --- all of it --------------------------------------------------------------------------------


def dashboard_data(*, now: datetime | None = None) -> dict[str, Any]:
    """Every series the dashboard draws, as plain JSON: times in epoch milliseconds, points as
    ``[time, value, sample size]``, oldest first."""
    now = now or timezone.now()
    since = now - timedelta(days=WINDOW_DAYS)
    drift, quality = _drift(since)
    return {
        "generated_at": _ms(now),
        "since": _ms(since),
        "time_zone": timezone.get_current_timezone_name(),
        "limits": {"days": WINDOW_DAYS, "points_per_series": MAX_POINTS, "versions": MAX_VERSIONS},
        "offline": _offline(),
        "online": _online(since),
        "drift": drift,
        "quality": quality,
        "stages": _stage_events(since),
        "alerts": _alert_counts(since, now),
    }
