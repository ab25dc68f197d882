"""LinkHub's own Prometheus metrics: every definition, the web app's ``/metrics`` view, the
collectors read at scrape time, and the /metrics server of each Celery worker.

Catalogue. Base units; counters end in ``_total``; a user, link or tag is never a label.

Counted where the work happens, in the web app and in the workers (multiprocess-safe). Counters
move when the transaction that did the work commits, so rolled-back work is never counted.

=========================================  =========  ==================================================
``linkhub_snapshots_total``                counter    snapshots that ended. ``outcome``: succeeded
                                                      (``reason`` ""), failed (``reason``: the failure
                                                      reason), suspect (a suspect capture that ended
                                                      failed; ``reason`` "suspect"). Attempts that are
                                                      retried are not counted, only final outcomes.
``linkhub_snapshot_stage_seconds``         histogram  provenance timings of a succeeded snapshot, by
                                                      ``stage``: queue_wait, navigation, settle,
                                                      capture, store, total
``linkhub_suggestions_made_total``         counter    suggestions stored, by ``kind``: proposed,
                                                      auto_applied, shadow (new or made again after
                                                      they expired; a re-scoring that repeats an open
                                                      suggestion does not count it again)
``linkhub_suggestion_decisions_total``     counter    suggestions people answered, by ``outcome``:
                                                      accepted, rejected, reverted
``linkhub_tag_decisions_total``            counter    tag decision (audit) rows, by ``action`` (accept,
                                                      reject, add, remove, auto_apply) and ``source``
                                                      (ui, api, admin, import, cli, model)
``linkhub_prediction_seconds``             histogram  scoring one link with one model version, by
                                                      ``role``: serving (what the user is shown), shadow
``linkhub_training_runs_total``            counter    training runs that ended, by ``status``:
                                                      succeeded, skipped, failed
=========================================  =========  ==================================================

Read at scrape time, by the web app's ``/metrics`` only (so never duplicated per worker), and
kept for a few seconds per process. When their source does not answer they are left out:

=========================================  ==========================================================
``linkhub_queue_depth{queue}``             messages waiting in the broker: snapshots, ml, default (5 s)
``linkhub_model_production_version``       number of the version in production (absent when none is)
``linkhub_model_production_age_seconds``   seconds since that version entered production
``linkhub_model_online_acceptance_rate``   latest ``online_acceptance_rate`` point of the version in
                                           ``stage`` production or canary
``linkhub_drift_score{feature, method}``   statistic of each feature of the latest finished drift run
``linkhub_drift_detected{feature}``        1 when that feature drifted, else 0
``linkhub_data_quality{check}``            the data-quality rates of that run
``linkhub_alerts_open{severity}``          open (firing or acknowledged) in-app alerts
=========================================  ==========================================================

Multiprocess mode. gunicorn runs several workers, and a Celery worker runs its tasks in pool
processes, so no one process holds the counts. With ``PROMETHEUS_MULTIPROC_DIR`` set before
prometheus_client is first imported, every process writes its values to files in that directory,
and ``MultiProcessCollector`` adds them up. Each process group has a directory of its own, emptied
when it starts: the web app's ``/metrics`` adds up the gunicorn workers' files, and each Celery
worker's main process serves its own directory (itself and its pool processes) on
``LINKHUB_WORKER_METRICS_PORT``. Without the variable (runserver, the test suite, management
commands) each process counts in memory and serves that. docs/operations.md, "Metrics".
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from celery.signals import worker_init, worker_process_shutdown
from django.conf import settings
from django.db import DatabaseError, transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, start_http_server, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from .celery import queue_depths

logger = logging.getLogger(__name__)

SNAPSHOT_STAGES = ("queue_wait", "navigation", "settle", "capture", "store", "total")
QUEUES = ("snapshots", "ml", "default")

SNAPSHOTS = Counter(
    "linkhub_snapshots_total",
    "Snapshots that ended, by outcome (succeeded, failed, suspect) and failure reason.",
    ["outcome", "reason"],
)
SNAPSHOT_STAGE_SECONDS = Histogram(
    "linkhub_snapshot_stage_seconds",
    "Time of each stage of a succeeded snapshot, from its provenance.",
    ["stage"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 45, 60, 90, 120),
)
SUGGESTIONS_MADE = Counter(
    "linkhub_suggestions_made_total",
    "Tag suggestions stored, by kind (proposed, auto_applied, shadow).",
    ["kind"],
)
SUGGESTION_DECISIONS = Counter(
    "linkhub_suggestion_decisions_total",
    "Tag suggestions people answered, by outcome (accepted, rejected, reverted).",
    ["outcome"],
)
TAG_DECISIONS = Counter(
    "linkhub_tag_decisions_total",
    "Tag decision audit rows written, by action and source.",
    ["action", "source"],
)
PREDICTION_SECONDS = Histogram(
    "linkhub_prediction_seconds",
    "Time to score one link with one model version, by role (serving, shadow).",
    ["role"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
TRAINING_RUNS = Counter(
    "linkhub_training_runs_total",
    "Training runs that ended, by status (succeeded, skipped, failed).",
    ["status"],
)
_COUNTED: tuple[Counter | Histogram, ...] = (
    SNAPSHOTS,
    SNAPSHOT_STAGE_SECONDS,
    SUGGESTIONS_MADE,
    SUGGESTION_DECISIONS,
    TAG_DECISIONS,
    PREDICTION_SECONDS,
    TRAINING_RUNS,
)


def _on_commit(record: Callable[[], None]) -> None:
    # robust: a metric must never turn work that committed into an error.
    transaction.on_commit(record, robust=True)


# --- what the services call ---------------------------------------------------------------------


def snapshot_ended(*, outcome: str, reason: str = "", timings: dict[str, Any] | None = None) -> None:
    """Count a snapshot's final outcome and, for a success, observe its stage timings."""
    stages = {
        stage: max(0.0, float(seconds))  # a claim may come a little before not_before
        for stage in SNAPSHOT_STAGES
        if isinstance(seconds := (timings or {}).get(stage), int | float)
    }

    def record() -> None:
        SNAPSHOTS.labels(outcome=outcome, reason=reason).inc()
        for stage, seconds in stages.items():
            SNAPSHOT_STAGE_SECONDS.labels(stage=stage).observe(seconds)

    _on_commit(record)


class _Suggestion(Protocol):
    status: str
    visible: bool


def suggestion_made(suggestion: _Suggestion) -> None:
    """Count a stored suggestion by what it is once the transaction commits: one the model
    auto-applied in the same transaction counts as auto_applied, not also as proposed."""

    def record() -> None:
        kind = str(suggestion.status) if suggestion.visible else "shadow"
        if kind in ("proposed", "auto_applied", "shadow"):
            SUGGESTIONS_MADE.labels(kind=kind).inc()

    _on_commit(record)


def suggestion_decided(*, outcome: str, count: int = 1) -> None:
    if count:
        _on_commit(lambda: SUGGESTION_DECISIONS.labels(outcome=outcome).inc(count))


def tag_decisions_written(pairs: Iterable[tuple[str, str]]) -> None:
    """Count decision rows, given as (action, source) pairs."""
    tally = Tally((str(action), str(source)) for action, source in pairs)

    def record() -> None:
        for (action, source), n in tally.items():
            TAG_DECISIONS.labels(action=action, source=source).inc(n)

    if tally:
        _on_commit(record)


def training_run_ended(*, status: str) -> None:
    _on_commit(lambda: TRAINING_RUNS.labels(status=status).inc())


# --- multiprocess mode --------------------------------------------------------------------------


def multiproc_dir() -> str:
    """This process's multiprocess directory, or "" when it counts in memory.

    prometheus_client chose between the two when it was first imported; the environment can have
    changed since (the test suite takes the variable away), so both are asked."""
    if not getattr(values.ValueClass, "_multiprocess", False):
        return ""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def _process_metrics() -> Collector:
    """What the processes of this group counted: their files, or this process's registry."""
    path = multiproc_dir()
    return MultiProcessCollector(None, path=path) if path else REGISTRY


def values_clear() -> None:
    """Forget what this process counted, and the cached readings (in-memory mode only: the
    test suite, between tests)."""
    if multiproc_dir():
        return
    for metric in _COUNTED:
        metric.clear()
    QUEUE_DEPTH.expire()
    MODEL_GAUGES.expire()


# --- read at scrape time ------------------------------------------------------------------------


class _Cached:
    """A collector that reads its source at most once per ``ttl`` seconds in this process."""

    ttl = 15.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._read_at: float | None = None
        self._families: list[Metric] = []

    def collect(self) -> list[Metric]:
        with self._lock:
            now = time.monotonic()
            if self._read_at is None or now - self._read_at >= self.ttl:
                self._families = self.read()
                self._read_at = now
            return self._families

    def expire(self) -> None:
        with self._lock:
            self._read_at = None

    def read(self) -> list[Metric]:
        raise NotImplementedError


class QueueDepthCollector(_Cached):
    """``linkhub_queue_depth``: the length of each queue's list in the broker (Redis)."""

    ttl = 5.0

    def __init__(self, queues: Iterable[str] = QUEUES) -> None:
        super().__init__()
        self.queues = tuple(queues)

    def read(self) -> list[Metric]:
        try:
            depths = queue_depths(self.queues)
        except Exception as exc:  # the broker is down or unreachable: no value rather than a wrong one
            logger.warning("metrics: queue depth unavailable, the broker did not answer: %s", exc)
            return []
        family = GaugeMetricFamily(
            "linkhub_queue_depth", "Messages waiting in the broker, by queue.", labels=["queue"]
        )
        for queue, depth in depths.items():
            family.add_metric([queue], depth)
        return [family]


class DatabaseGaugesCollector(_Cached):
    """Gauges read from the database at scrape time. The app that owns the data registers a
    function that returns its families (``gauges_register``, from its ``AppConfig.ready``): this
    module knows no app. A source whose tables are missing (before migrate) or whose database is
    restarting is left out of that scrape."""

    ttl = 15.0

    def __init__(self) -> None:
        super().__init__()
        self.sources: dict[str, Callable[[], list[Metric]]] = {}

    def read(self) -> list[Metric]:
        families: list[Metric] = []
        for name, source in list(self.sources.items()):
            try:
                families += source()
            except DatabaseError as exc:
                logger.warning("metrics: %s unavailable: %s", name, exc)
        return families


QUEUE_DEPTH = QueueDepthCollector()
MODEL_GAUGES = DatabaseGaugesCollector()


def gauges_register(name: str, source: Callable[[], list[Metric]]) -> None:
    """Read ``source`` at each scrape of the web app's /metrics (cached for a few seconds)."""
    MODEL_GAUGES.sources[name] = source
    MODEL_GAUGES.expire()


_series_starters: list[Callable[[], None]] = []


def series_start_register(start: Callable[[], None]) -> None:
    """``start`` creates, at zero, label sets a worker feeds (see ``_series_start``)."""
    if start not in _series_starters:
        _series_starters.append(start)


class _Together:
    def __init__(self, *collectors: Collector) -> None:
        self.collectors = collectors

    def collect(self) -> Iterable[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    """``/metrics``: what this process group counted, and the gauges read at scrape time."""
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    body = encoder(_Together(_process_metrics(), QUEUE_DEPTH, MODEL_GAUGES))
    return HttpResponse(body, content_type=content_type)


# --- the Celery worker's /metrics ---------------------------------------------------------------

_worker_server: list[Any] = []


def worker_metrics_serve() -> None:
    """Serve this worker's metrics on ``LINKHUB_WORKER_METRICS_PORT`` (0: not at all), from a
    thread of the worker's main process. Called once, before the pool processes start."""
    port = settings.LINKHUB_WORKER_METRICS_PORT
    if not port or _worker_server:
        return
    addr = settings.LINKHUB_WORKER_METRICS_ADDR
    path = multiproc_dir()
    registry: Collector = REGISTRY
    if path:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=path)
    else:
        logger.warning(
            "metrics: PROMETHEUS_MULTIPROC_DIR is not set, so the worker's /metrics shows only its "
            "main process: what its pool processes count is missing"
        )
    try:
        _worker_server.append(start_http_server(port, addr=addr, registry=registry))
    except OSError as exc:  # the port is taken: the worker still works, without its metrics
        logger.error("metrics: cannot serve the worker's /metrics on %s:%s: %s", addr, port, exc)
        return
    logger.info("metrics: serving the worker's /metrics on http://%s:%s/metrics", addr, port)
    _series_start()


def _series_start() -> None:
    """Start the counters a worker feeds at zero. A series that first appears at 1 shows no
    increase() or rate() for that first event, and rare events (a failed training run) are all
    first events after a restart. The apps add their own label sets (``series_start_register``)."""
    SNAPSHOTS.labels(outcome="succeeded", reason="")
    for status in ("succeeded", "skipped", "failed"):
        TRAINING_RUNS.labels(status=status)
    for start in _series_starters:
        start()


def process_dead(pid: int | None) -> None:
    """A process of this group ended (a gunicorn worker, a Celery pool process): its live gauge
    files go. Its counters stay, so that totals never go down."""
    path = multiproc_dir() or os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if pid and path:
        mark_process_dead(pid, path)


# Every Celery worker serves its metrics, and its pool processes' gauge files go when they end.
# This module is imported by the worker at start (CELERY_IMPORTS), before these signals are sent.
@worker_init.connect
def _serve_worker_metrics(**kwargs: Any) -> None:
    worker_metrics_serve()


@worker_process_shutdown.connect
def _pool_process_dead(pid: int | None = None, **kwargs: Any) -> None:
    process_dead(pid)
