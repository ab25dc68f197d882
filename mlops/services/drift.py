"""Drift and data quality: the training reference of a version, the check of a recent window
against the production version's reference, and the pipeline's data-quality rates.

- ``reference_profile`` describes a version's training data at training time (numeric feature
  samples, domain and has-text counts, a sample of input texts, and the top-1 predicted tags on
  the holdout); it is kept on ``ModelVersion.reference``.
- ``drift_run`` profiles the links saved in the last ``DRIFT_WINDOW_DAYS`` days the same way,
  compares the two (the statistics are in ``mlops/training/drift.py``), adds the data-quality
  checks of the window, and stores a ``DriftRun`` with one ``DriftResult`` per feature. Every
  result with a statistic is also a ``MetricPoint`` (``drift_<feature>``, ``quality_<check>``),
  which charts and alert rules read.
- ``quality_metrics_record`` records the data-quality rates of the last hour, every few
  minutes, so that an alert on pipeline health does not wait for the daily drift check.

Without a production version with a reference, a run is "skipped": only the data-quality
checks run.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.db.models.functions import Substr
from django.utils import timezone

from linkhub.links.models import Link
from linkhub.links.normalize import url_domain
from linkhub.queueing import enqueue_on_commit
from snapshots.models import Snapshot

from ..models import DriftResult, DriftRun, MetricPoint, ModelVersion, Stage
from ..training import drift as stats
from ..training.data import TEXT_CHARS, Example
from ..training.drift import Verdict
from . import registry

logger = logging.getLogger(__name__)

PROFILE_SEED = 20261126
MAX_CURRENT = 2000  # the window's newest links that are profiled
PREDICT_SAMPLE = 500  # of those, the links the model scores for the predicted-tag distribution
QUALITY_MIN_COUNT = 10  # a rate over fewer is not judged
QUALITY_WINDOW = timedelta(hours=1)  # of the frequent pipeline-health points
STALE_AFTER = timedelta(hours=2)  # a run still running then lost its worker


def _domain(url: str) -> str:
    try:
        return url_domain(url)
    except ValueError:  # a URL urlsplit cannot read (a dataset's, not normalised)
        return ""


def _example_row(example: Any) -> dict[str, Any]:
    return {
        "url": example.url,
        "title": example.title,
        "description": example.description,
        "text": example.text,
        "domain": _domain(example.url),
    }


def reference_profile(examples: list[Any], model: Any, *, holdout: list[Any] | None = None) -> dict[str, Any]:
    """The profile of a version's training examples, with the top-1 tags the model predicts on
    the holdout (on the examples themselves when no holdout is given)."""
    scored = list(holdout) if holdout is not None else list(examples)
    predicted = stats.predicted_top1(model, scored) if scored else None
    profile = stats.profile_build(
        rows=[_example_row(e) for e in examples], predicted=predicted, seed=PROFILE_SEED
    )
    profile["created_at"] = timezone.now().isoformat()
    profile["predicted_on"] = "holdout" if holdout is not None else "training data"
    return profile


# --- data quality -----------------------------------------------------------------------------


def _rate(feature: str, numerator: int, denominator: int, threshold: float, what: str) -> Verdict:
    counts = {"numerator": numerator, "denominator": denominator}
    if denominator < QUALITY_MIN_COUNT:
        return Verdict(
            feature=feature,
            kind=DriftResult.Kind.QUALITY,
            method=DriftResult.Method.INSUFFICIENT_DATA,
            statistic=None,
            p_value=None,
            threshold=threshold,
            drifted=False,
            n_reference=0,
            n_current=denominator,
            details={
                "reason": f"{what}: {denominator} in the window, fewer than {QUALITY_MIN_COUNT}",
                **counts,
            },
        )
    rate = numerator / denominator
    return Verdict(
        feature=feature,
        kind=DriftResult.Kind.QUALITY,
        method=DriftResult.Method.RATE,
        statistic=rate,
        p_value=None,
        threshold=threshold,
        drifted=rate > threshold,
        n_reference=0,
        n_current=denominator,
        details={"reason": f"{what}; above {threshold:g} is a problem", **counts},
    )


def quality_verdicts(since: datetime, until: datetime) -> list[Any]:
    """The window's data-quality rates: links whose good snapshot gave no text, failed
    snapshots, and snapshots the quality check found suspect (blank, error, captcha pages)."""
    finished = Snapshot.objects.filter(
        finished_at__gte=since,
        finished_at__lt=until,
        status__in=[Snapshot.Status.SUCCEEDED, Snapshot.Status.FAILED],
    ).aggregate(
        total=Count("id"),
        failed=Count("id", filter=Q(status=Snapshot.Status.FAILED)),
        suspect=Count("id", filter=~Q(suspect_reason="")),
    )
    newest = Snapshot.objects.filter(link=OuterRef("pk")).order_by("-version").values("status")[:1]
    succeeded = Snapshot.objects.filter(link=OuterRef("pk"), status=Snapshot.Status.SUCCEEDED)
    links = (
        Link.objects.filter(created_at__gte=since, created_at__lt=until)
        .annotate(newest_status=Subquery(newest), has_good=Exists(succeeded))
        .aggregate(
            with_good=Count("id", filter=Q(has_good=True)),
            empty=Count("id", filter=Q(newest_status=Snapshot.Status.SUCCEEDED, content_text="")),
        )
    )
    return [
        _rate(
            "empty_text_rate",
            links["empty"],
            links["with_good"],
            settings.QUALITY_MAX_EMPTY_TEXT_RATE,
            "links saved in the window whose newest snapshot succeeded without any text, of the "
            "links with a succeeded snapshot",
        ),
        _rate(
            "snapshot_failure_rate",
            finished["failed"],
            finished["total"],
            settings.QUALITY_MAX_FAILURE_RATE,
            "snapshots that failed, of the snapshots finished in the window",
        ),
        _rate(
            "suspect_rate",
            finished["suspect"],
            finished["total"],
            settings.QUALITY_MAX_SUSPECT_RATE,
            "snapshots the quality check found suspect, of the snapshots finished in the window",
        ),
    ]


def _points(verdicts: list[Any], *, run: DriftRun | None, version: ModelVersion | None, since, until, now):
    points = []
    for verdict in verdicts:
        if verdict.statistic is None:
            continue
        quality = verdict.kind == DriftResult.Kind.QUALITY
        labels: dict[str, Any] = {
            "method": verdict.method,
            "kind": verdict.kind,
            "threshold": verdict.threshold,
            "drifted": verdict.drifted,
        }
        if run is not None:
            labels["run"] = run.pk
        else:
            labels["window_minutes"] = int((until - since).total_seconds() // 60)
        points.append(
            MetricPoint(
                name=f"{'quality' if quality else 'drift'}_{verdict.feature}",
                model_version=None if quality else version,
                value=float(verdict.statistic),
                count=verdict.n_current,
                window_start=since,
                window_end=until,
                labels=labels,
                recorded_at=now,
            )
        )
    return points


def quality_metrics_record(*, now: datetime | None = None, window: timedelta = QUALITY_WINDOW) -> int:
    """Record the data-quality rates of the last hour as metric points (the rates with enough
    snapshots behind them); returns how many were written."""
    now = now or timezone.now()
    points = _points(
        quality_verdicts(now - window, now), run=None, version=None, since=now - window, until=now, now=now
    )
    MetricPoint.objects.bulk_create(points)
    return len(points)


# --- drift runs -------------------------------------------------------------------------------


def drift_runs_sweep(*, now: datetime | None = None) -> int:
    """Fail the runs whose worker died: still running long after they were created."""
    now = now or timezone.now()
    return DriftRun.objects.filter(status=DriftRun.Status.RUNNING, created_at__lt=now - STALE_AFTER).update(
        status=DriftRun.Status.FAILED,
        message="The check stopped before it finished (its worker was lost or timed out).",
        finished_at=now,
    )


@transaction.atomic
def drift_request(*, trigger: str, actor: User | None = None, queue: bool = True) -> DriftRun:
    """A drift check (model owners, the API, the schedule): the row first, then the task, on
    commit. While a check is running, that one is returned."""
    registry.check_model_owner(actor)
    if trigger not in DriftRun.Trigger.values:
        raise ValueError(f"unknown drift run trigger {trigger!r}")
    running = DriftRun.objects.filter(
        status=DriftRun.Status.RUNNING, created_at__gte=timezone.now() - STALE_AFTER
    ).first()
    if running is not None:
        return running
    run = DriftRun.objects.create(trigger=trigger, requested_by=actor)
    if queue:
        enqueue_on_commit("mlops.tasks.run_drift_check", run.pk)
    return run


def drift_run(*, trigger: str, actor: User | None = None, now: datetime | None = None) -> DriftRun:
    """Check drift now, in this process (the schedule's task, tests, the shell)."""
    drift_runs_sweep()
    run = drift_request(trigger=trigger, actor=actor, queue=False)
    return drift_run_execute(run_id=run.pk, now=now) or run


def drift_run_execute(*, run_id: int, now: datetime | None = None) -> DriftRun | None:
    """Carry out a requested run. The worker that sets ``started_at`` first owns it; a run that
    is gone, done or owned by another worker is returned as it is. Every outcome ends the row."""
    claimed = DriftRun.objects.filter(
        pk=run_id, status=DriftRun.Status.RUNNING, started_at__isnull=True
    ).update(started_at=timezone.now())
    run = DriftRun.objects.filter(pk=run_id).first()
    if run is None or not claimed:
        return run
    try:
        _check(run, now or timezone.now())
    except Exception as exc:
        logger.exception("drift run %s failed", run_id)
        DriftRun.objects.filter(pk=run_id, status=DriftRun.Status.RUNNING).update(
            status=DriftRun.Status.FAILED,
            message=f"The drift check failed: {type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
    run.refresh_from_db()
    return run


def _window_rows(since: datetime, until: datetime) -> list[dict[str, Any]]:
    language = (
        Snapshot.objects.filter(link=OuterRef("pk"), status=Snapshot.Status.SUCCEEDED)
        .order_by("-version")
        .values("language")[:1]
    )
    rows = (
        Link.objects.filter(created_at__gte=since, created_at__lt=until)
        .annotate(text=Substr("content_text", 1, TEXT_CHARS), language=Subquery(language))
        .order_by("-created_at", "-id")
        .values("url", "title", "description", "text", "domain", "language")[:MAX_CURRENT]
    )
    return [{**row, "text": row["text"] or ""} for row in rows]


def _predict(version: ModelVersion, rows: list[dict[str, Any]]) -> tuple[list[str] | None, str]:
    """The model's top-1 tags on a sample of the window's links, or why there are none."""
    sample = rows
    if len(rows) > PREDICT_SAMPLE:
        sample = random.Random(PROFILE_SEED).sample(rows, PREDICT_SAMPLE)
    if not sample:
        return [], ""
    try:
        model = registry.model_load(version)
    except Exception as exc:  # a missing or tampered artifact must not stop the other checks
        logger.warning("drift: model v%s could not be loaded: %s", version.number, exc)
        return None, f"the model v{version.number} could not be loaded: {exc}"
    examples = [
        Example(url=r["url"], title=r["title"], description=r["description"], text=r["text"], tags=[])
        for r in sample
    ]
    return stats.predicted_top1(model, examples), ""


def _check(run: DriftRun, now: datetime) -> None:
    days = settings.DRIFT_WINDOW_DAYS
    since, until = now - timedelta(days=days), now
    n_links = Link.objects.filter(created_at__gte=since, created_at__lt=until).count()
    verdicts = quality_verdicts(since, until)
    version = registry.in_stage(Stage.PRODUCTION)
    if version is None or not version.reference:
        why = (
            "There is no production model"
            if version is None
            else f"Production v{version.number} has no reference profile (it was trained before drift checks)"
        )
        status = DriftRun.Status.SKIPPED
        message = (
            f"{why}, so no drift was checked; only the data-quality checks ran. {_quality_summary(verdicts)}"
        )
    else:
        rows = _window_rows(since, until)
        predicted, problem = _predict(version, rows)
        current = stats.profile_build(rows=rows, predicted=predicted, seed=PROFILE_SEED)
        compared = stats.profile_compare(version.reference, current, seed=PROFILE_SEED)
        if predicted is None and "predicted_tags" in version.reference:
            compared.append(
                Verdict(
                    feature="predicted_tags",
                    kind=DriftResult.Kind.PREDICTION,
                    method=DriftResult.Method.INSUFFICIENT_DATA,
                    statistic=None,
                    p_value=None,
                    threshold=stats.PSI_MIN,
                    drifted=False,
                    n_reference=int(version.reference["predicted_tags"].get("n", 0)),
                    n_current=0,
                    details={"reason": problem},
                )
            )
        verdicts = compared + verdicts
        status = DriftRun.Status.DONE
        message = (
            f"{n_links} link{'s' if n_links != 1 else ''} saved in the last {days} days, against the "
            f"training reference of v{version.number}. {_drift_summary(compared)} "
            f"{_quality_summary(verdicts)}"
        )
    _record(run, verdicts, version, since, until, now, status, message.strip(), n_links)


@transaction.atomic
def _record(run, verdicts, version, since, until, now, status, message, n_links) -> None:
    DriftResult.objects.bulk_create(
        [
            DriftResult(
                run=run,
                feature=v.feature,
                kind=v.kind,
                method=v.method,
                statistic=v.statistic,
                p_value=v.p_value,
                threshold=v.threshold,
                drifted=v.drifted,
                n_reference=v.n_reference,
                n_current=v.n_current,
                details=v.details,
            )
            for v in verdicts
        ]
    )
    MetricPoint.objects.bulk_create(
        _points(verdicts, run=run, version=version, since=since, until=until, now=now)
    )
    drifted = any(v.drifted for v in verdicts if v.kind != DriftResult.Kind.QUALITY)
    DriftRun.objects.filter(pk=run.pk, status=DriftRun.Status.RUNNING).update(
        status=status,
        reference_version=version if status == DriftRun.Status.DONE else None,
        window_start=since,
        window_end=until,
        n_current=n_links,
        message=message[:2000],
        drifted=drifted,
        finished_at=timezone.now(),
    )
    logger.info("drift run %s: %s, drifted=%s", run.pk, status, drifted)


def describe(verdict: Any) -> str:
    """A verdict's statistic against its threshold, e.g. "AUC 0.93 ≥ 0.70"."""
    value = verdict.statistic
    if verdict.method == DriftResult.Method.KS:
        return f"KS D {value:.2f}, p {verdict.p_value:.2g} < {verdict.threshold:g}"
    if verdict.method == DriftResult.Method.CHI2:
        return f"chi-square p {verdict.p_value:.2g} < {verdict.threshold:g}"
    if verdict.method == DriftResult.Method.PSI:
        return f"PSI {value:.2f} ≥ {verdict.threshold:.2f}"
    if verdict.method == DriftResult.Method.DOMAIN_CLASSIFIER:
        return f"AUC {value:.2f} ≥ {verdict.threshold:.2f}"
    if verdict.method == DriftResult.Method.RATE:
        return f"{value:.2f} > {verdict.threshold:.2f}"
    return verdict.details.get("reason", "")


def _drift_summary(verdicts: list[Any]) -> str:
    drifted = [v for v in verdicts if v.drifted]
    short = [v.feature for v in verdicts if v.method == DriftResult.Method.INSUFFICIENT_DATA]
    text = (
        "Drift in " + "; ".join(f"{v.feature} ({describe(v)})" for v in drifted) + "."
        if drifted
        else "No drift found."
    )
    if short:
        text += f" Too little data for {', '.join(short)}."
    return text


def _quality_summary(verdicts: list[Any]) -> str:
    quality = [v for v in verdicts if v.kind == DriftResult.Kind.QUALITY]
    bad = [v for v in quality if v.drifted]
    if bad:
        return "Data quality: " + "; ".join(f"{v.feature} {describe(v)}" for v in bad) + "."
    if all(v.method == DriftResult.Method.INSUFFICIENT_DATA for v in quality):
        return "Too few snapshots in the window to judge data quality."
    return "Data quality within limits."
