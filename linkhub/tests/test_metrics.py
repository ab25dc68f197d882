"""LinkHub's Prometheus metrics: they move when the work is done and committed, /metrics shows them,
the processes of a group add up in multiprocess mode, a real Celery worker serves its own, and
the gauges read at scrape time come from the database and the broker."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import urllib.request
import uuid
from datetime import timedelta

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from linkhub import metrics
from mlops.models import MetricPoint, Policy, Stage, Suggestion
from mlops.services import decisions, registry
from mlops.services.suggest import suggest_for_link
from snapshots import services
from snapshots.capture import Capture, PageMetadata
from snapshots.models import Snapshot
from snapshots.tests.worker_fixture import wait_for


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one series in a /metrics page, None when it is not there."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return s.value
    return None


def scrape(client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def value(metric, **labels: str) -> float:
    """This process's value of a counter (a histogram: its count of observations)."""
    for family in metric.collect():
        for s in family.samples:
            if s.name.endswith(("_total", "_count")) and s.labels == labels:
                return s.value
    return 0.0


# --- snapshots ----------------------------------------------------------------------------------


TIMINGS = {"queue_wait": 0.4, "navigation": 1.2, "settle": 0.8, "capture": 0.5, "total": 2.9, "quality": 0.1}


@pytest.fixture
def pending(make_link, alice):
    def make(**fields) -> Snapshot:
        link = make_link(alice, f"https://example.com/{uuid.uuid4().hex}")
        snapshot = services.snapshot_request(link=link, queue=False)
        if fields:
            Snapshot.objects.filter(pk=snapshot.pk).update(**fields)
        return snapshot

    return make


def complete(snapshot: Snapshot, suspect_reason: str = "") -> services.Outcome:
    capture = Capture(
        final_url="https://example.com/",
        http_status=200,
        content_type="text/html",
        meta=PageMetadata(title="Owls"),
    )
    capture.html, capture.text = "<html><body><p>Owls hunt at night.</p></body></html>", "Owls hunt at night."
    return services.snapshot_complete(
        snapshot_id=snapshot.pk,
        capture=capture,
        provenance={"timings": dict(TIMINGS)},
        suspect_reason=suspect_reason,
    )


@pytest.mark.django_db
def test_snapshot_outcomes_are_counted_and_shown_on_metrics(
    pending, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert complete(pending()).status == "succeeded"
        # A transient failure with tries left is retried: not an outcome yet.
        retried = services.snapshot_fail(snapshot_id=pending(attempts=1).pk, reason="dns", detail="no host")
        assert retried.retry_in is not None
        failed = services.snapshot_fail(snapshot_id=pending().pk, reason="http_4xx", detail="404")
        assert failed.status == "failed"
        # A suspect capture on its last try ends failed: counted as suspect.
        assert complete(pending(attempts=3, max_attempts=3), suspect_reason="blank page").status == "failed"

    text = scrape(client)
    assert sample(text, "linkhub_snapshots_total", outcome="succeeded", reason="") == 1
    assert sample(text, "linkhub_snapshots_total", outcome="failed", reason="http_4xx") == 1
    assert sample(text, "linkhub_snapshots_total", outcome="suspect", reason="suspect") == 1
    assert sample(text, "linkhub_snapshots_total", outcome="failed", reason="dns") is None
    # Stage timings of the one success, the store stage measured by snapshot_complete itself.
    for stage in ("queue_wait", "navigation", "settle", "capture", "store", "total"):
        assert sample(text, "linkhub_snapshot_stage_seconds_count", stage=stage) == 1, stage
    assert sample(text, "linkhub_snapshot_stage_seconds_sum", stage="navigation") == pytest.approx(1.2)
    assert sample(text, "linkhub_snapshot_stage_seconds_bucket", stage="navigation", le="1.0") == 0
    assert sample(text, "linkhub_snapshot_stage_seconds_bucket", stage="navigation", le="2.0") == 1
    assert sample(text, "linkhub_snapshot_stage_seconds_count", stage="quality") is None


@pytest.mark.django_db
def test_a_rolled_back_outcome_is_not_counted(pending, django_capture_on_commit_callbacks):
    snapshot = pending()
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            services.snapshot_fail(snapshot_id=snapshot.pk, reason="http_4xx", detail="404")
            raise RuntimeError("the database went away before the commit")
    assert value(metrics.SNAPSHOTS, outcome="failed", reason="http_4xx") == 0


# --- suggestions and decisions ------------------------------------------------------------------


class FakeModel:
    """Fixed scores; registry.model_load (our wrapper) hands it out instead of a trained artifact."""

    def __init__(self, scores: dict[str, float]):
        self.scores = scores

    def predict_scores(self, examples):
        return [dict(self.scores) for _ in examples]

    def explain(self, example, name, k):
        return [("owls", 0.4)]


@pytest.mark.django_db
def test_suggestions_made_and_prediction_time_are_counted_once(
    alice, make_link, make_version, monkeypatch, django_capture_on_commit_callbacks
):
    make_version(Stage.PRODUCTION)
    make_version(Stage.SHADOW)
    # The shared model alone decides (its weight in the blend with zero-shot is 1): the fixed
    # scores are what is counted.
    Policy.objects.update_or_create(
        pk=1, defaults={"suggest_threshold": 0.3, "auto_apply_threshold": 0.9, "blend_shared_weight": 1.0}
    )
    monkeypatch.setattr(registry, "model_load", lambda version: FakeModel({"birds": 0.95, "night": 0.5}))
    make_link(alice, "https://example.com/vocabulary", tags=["birds", "night"])
    link = make_link(alice, "https://example.com/owls")

    with django_capture_on_commit_callbacks(execute=True):
        made = suggest_for_link(link_id=link.pk)
    assert sorted((s.tag_key, s.status) for s in made) == [("birds", "auto_applied"), ("night", "proposed")]
    assert value(metrics.SUGGESTIONS_MADE, kind="auto_applied") == 1
    assert value(metrics.SUGGESTIONS_MADE, kind="proposed") == 1
    assert value(metrics.SUGGESTIONS_MADE, kind="shadow") == 2
    assert value(metrics.PREDICTION_SECONDS, role="serving") == 1
    assert value(metrics.PREDICTION_SECONDS, role="shadow") == 1
    assert value(metrics.TAG_DECISIONS, action="auto_apply", source="model") == 1

    # Scoring again repeats the open suggestion: scored again, but not a new suggestion.
    with django_capture_on_commit_callbacks(execute=True):
        suggest_for_link(link_id=link.pk)
    assert value(metrics.SUGGESTIONS_MADE, kind="proposed") == 1
    assert value(metrics.SUGGESTIONS_MADE, kind="shadow") == 2
    assert value(metrics.PREDICTION_SECONDS, role="serving") == 2


@pytest.mark.django_db
def test_decisions_are_counted_on_commit(
    alice, make_link, make_version, suggest, client, django_capture_on_commit_callbacks
):
    version = make_version()
    link = make_link(alice, "https://example.com/owls")
    suggest(link, "birds", version=version)
    suggest(link, "night", version=version)
    suggest(link, "raptors", version=version, status=Suggestion.Status.AUTO_APPLIED)
    suggest(link, "hunting", version=version)
    with django_capture_on_commit_callbacks(execute=True):
        decisions.decide(link=link, tag="birds", action="accept", actor=alice, source="api")
        decisions.decide(link=link, tag="night", action="reject", actor=alice, source="ui")
        decisions.decide(link=link, tag="raptors", action="reject", actor=alice, source="ui")
        decisions.decide(link=link, tag="hunting", action="add", actor=alice, source="ui")
        # Work that is rolled back is not counted.
        suggest(link, "owls", version=version)
        with pytest.raises(RuntimeError), transaction.atomic():
            decisions.decide(link=link, tag="owls", action="accept", actor=alice, source="api")
            raise RuntimeError("rolled back")

    text = scrape(client)
    # accepted: the accept, and the add that answered an open suggestion
    assert sample(text, "linkhub_suggestion_decisions_total", outcome="accepted") == 2
    assert sample(text, "linkhub_suggestion_decisions_total", outcome="rejected") == 1
    assert sample(text, "linkhub_suggestion_decisions_total", outcome="reverted") == 1
    assert sample(text, "linkhub_tag_decisions_total", action="accept", source="api") == 1
    assert sample(text, "linkhub_tag_decisions_total", action="reject", source="ui") == 2
    assert sample(text, "linkhub_tag_decisions_total", action="add", source="ui") == 1


@pytest.mark.django_db
def test_tag_edits_by_the_link_services_are_counted(alice, make_link, django_capture_on_commit_callbacks):
    """Bulk paths (edits, imports) write their decision rows in one go; each is counted."""
    with django_capture_on_commit_callbacks(execute=True):
        make_link(alice, "https://example.com/owls", tags=["birds", "night"])
    assert value(metrics.TAG_DECISIONS, action="add", source="cli") == 2


@pytest.mark.django_db
def test_training_runs_are_counted_when_they_end(owner_of_models, django_capture_on_commit_callbacks):
    from mlops.services.training import training_request, training_run

    run = training_request(trigger="api", actor=owner_of_models, queue=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert training_run(run_id=run.pk).status == "failed"  # nothing to train on
        training_run(run_id=run.pk)  # already finished: not counted again
    assert value(metrics.TRAINING_RUNS, status="failed") == 1


# --- multiprocess mode --------------------------------------------------------------------------

N = 250


def _run_python(code: str, metrics_dir) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "-c", textwrap.dedent(code)],
        env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "PATH": "/usr/bin:/bin"},
        cwd=str(django_settings.BASE_DIR),
        stderr=subprocess.PIPE,
    )


def _aggregated(metrics_dir) -> float:
    collector = MultiProcessCollector(None, path=str(metrics_dir))
    for family in collector.collect():
        for s in family.samples:
            if s.name == "linkhub_snapshots_total" and s.labels == {"outcome": "failed", "reason": "dns"}:
                return s.value
    return 0.0


def test_separate_processes_add_up_in_multiprocess_mode(tmp_path):
    code = f"""
        from linkhub import metrics
        assert metrics.multiproc_dir()
        for _ in range({N}):
            metrics.SNAPSHOTS.labels(outcome="failed", reason="dns").inc()
    """
    procs = [_run_python(code, tmp_path) for _ in range(3)]  # at the same time
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
    assert _aggregated(tmp_path) == 3 * N


def test_forked_processes_add_up_in_multiprocess_mode(tmp_path):
    """Like gunicorn's preloaded app and Celery's pool: the metric exists before the fork."""
    code = f"""
        import os
        from linkhub import metrics
        child = metrics.SNAPSHOTS.labels(outcome="failed", reason="dns")
        child.inc(0)
        pids = []
        for _ in range(3):
            pid = os.fork()
            if pid == 0:
                for _ in range({N}):
                    child.inc()
                os._exit(0)
            pids.append(pid)
        assert all(os.waitpid(pid, 0)[1] == 0 for pid in pids)
    """
    proc = _run_python(code, tmp_path)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert _aggregated(tmp_path) == 3 * N


@pytest.mark.django_db
def test_metrics_view_adds_up_the_files_of_its_process_group(tmp_path, client, monkeypatch):
    code = f"""
        from linkhub import metrics
        for _ in range({N}):
            metrics.SNAPSHOTS.labels(outcome="failed", reason="dns").inc()
    """
    procs = [_run_python(code, tmp_path) for _ in range(2)]
    for proc in procs:
        proc.communicate(timeout=60)
        assert proc.returncode == 0
    monkeypatch.setattr(metrics, "multiproc_dir", lambda: str(tmp_path))
    text = scrape(client)
    assert sample(text, "linkhub_snapshots_total", outcome="failed", reason="dns") == 2 * N
    # Only what the files hold: not this process's in-memory registry.
    assert sample(text, "process_cpu_seconds_total") is None


# --- a real Celery worker -----------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.read().decode()
    except OSError:
        return None


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_serves_the_counts_of_its_pool_processes(start_worker, make_link, alice):
    """The sweep runs in the worker's pool process; the main process serves its count."""
    from snapshots.tasks import sweep_snapshots

    port = _free_port()
    start_worker({"LINKHUB_WORKER_METRICS_PORT": str(port)})
    url = f"http://127.0.0.1:{port}/metrics"
    first = wait_for(lambda: _get(url), 60, f"the worker to serve {url}")
    # Started at zero, so that the first failure after a start shows up in increase().
    assert sample(first, "linkhub_training_runs_total", status="failed") == 0
    assert sample(first, "linkhub_snapshots_total", outcome="failed", reason="worker_lost") == 0

    link = make_link(alice, "https://example.com/owls")
    lost = services.snapshot_request(link=link, queue=False)
    long_ago = timezone.now() - timedelta(days=1)
    Snapshot.objects.filter(pk=lost.pk).update(
        status="running", attempts=1, max_attempts=1, started_at=long_ago, heartbeat_at=long_ago
    )
    sweep_snapshots.delay()
    wait_for(
        lambda: Snapshot.objects.filter(pk=lost.pk, status="failed").exists(), 60, "the sweep in the worker"
    )

    def counted() -> str | None:
        text = _get(url)
        n = text and sample(text, "linkhub_snapshots_total", outcome="failed", reason="worker_lost")
        return text if n == 1 else None

    text = wait_for(counted, 15, "the worker's /metrics to count the lost snapshot")
    assert sample(text, "linkhub_snapshots_total", outcome="succeeded", reason="") == 0


# --- read at scrape time ------------------------------------------------------------------------


@pytest.mark.django_db
def test_model_gauges_show_the_production_version_its_age_and_acceptance(make_version, client):
    metrics.MODEL_GAUGES.expire()
    text = scrape(client)
    assert sample(text, "linkhub_model_production_version") is None  # nothing in production yet

    now = timezone.now()
    version = make_version(Stage.PRODUCTION, stage_changed_at=now - timedelta(hours=2))
    canary = make_version(Stage.CANARY)
    retired = make_version(Stage.RETIRED)
    MetricPoint.objects.create(
        name="online_acceptance_rate", model_version=version, value=0.5, recorded_at=now - timedelta(hours=1)
    )
    MetricPoint.objects.create(name="online_acceptance_rate", model_version=version, value=0.75)
    MetricPoint.objects.create(name="online_acceptance_rate", model_version=canary, value=0.6)
    MetricPoint.objects.create(name="online_acceptance_rate", model_version=retired, value=0.1)
    text = scrape(client)
    assert sample(text, "linkhub_model_production_version") is None  # read 15 s ago: still cached

    metrics.MODEL_GAUGES.expire()
    text = scrape(client)
    assert sample(text, "linkhub_model_production_version") == version.number
    assert 7200 <= sample(text, "linkhub_model_production_age_seconds") < 7300
    assert sample(text, "linkhub_model_online_acceptance_rate", stage="production") == 0.75
    assert sample(text, "linkhub_model_online_acceptance_rate", stage="canary") == 0.6


def _has_models(*names: str) -> bool:
    try:
        for name in names:
            apps.get_model("mlops", name)
    except LookupError:
        return False
    return True


@pytest.mark.django_db
@pytest.mark.skipif(
    not _has_models("DriftRun", "DriftResult", "AlertRule", "AlertEvent"), reason="no drift models yet"
)
def test_drift_quality_and_alert_gauges_come_from_the_latest_finished_run():
    DriftRun, DriftResult = apps.get_model("mlops", "DriftRun"), apps.get_model("mlops", "DriftResult")
    AlertRule, AlertEvent = apps.get_model("mlops", "AlertRule"), apps.get_model("mlops", "AlertEvent")
    now = timezone.now()

    def run(status: str, age_hours: float, results: list[tuple]):
        drift_run = DriftRun.objects.create(
            trigger="schedule", status=status, created_at=now - timedelta(hours=age_hours)
        )
        for feature, kind, method, statistic, drifted in results:
            DriftResult.objects.create(
                run=drift_run,
                feature=feature,
                kind=kind,
                method=method,
                statistic=statistic,
                threshold=0.1,
                drifted=drifted,
            )

    run("done", 48, [("text_length", "numeric", "ks", 0.9, True)])
    run(
        "done",
        24,
        [
            ("text_length", "numeric", "ks", 0.05, False),
            ("domain", "categorical", "psi", 0.4, True),
            ("language", "categorical", "insufficient_data", None, False),
            ("empty_text_rate", "quality", "rate", 0.25, True),
        ],
    )
    run("running", 1, [("text_length", "numeric", "ks", 0.7, True)])  # not finished: not shown
    for name, severity, state in [
        ("metrics-test-a", "critical", "firing"),
        ("metrics-test-b", "critical", "acknowledged"),
        ("metrics-test-c", "warning", "resolved"),
    ]:
        rule = AlertRule.objects.create(
            name=name, metric="online_acceptance_rate", comparison="lt", threshold=0.4, severity=severity
        )
        AlertEvent.objects.create(rule=rule, state=state, message="low", observed=0.2, breach_started_at=now)
    opened_before = {
        severity: AlertEvent.objects.filter(state__in=["firing", "acknowledged"], rule__severity=severity)
        .exclude(rule__name__startswith="metrics-test-")
        .count()
        for severity in ("info", "warning", "critical")
    }

    metrics.MODEL_GAUGES.expire()
    families = {f.name: f for f in metrics.MODEL_GAUGES.collect()}

    def values_of(name: str) -> dict[tuple, float]:
        return {tuple(s.labels.values()): s.value for s in families[name].samples}

    assert values_of("linkhub_drift_score") == {("text_length", "ks"): 0.05, ("domain", "psi"): 0.4}
    assert values_of("linkhub_drift_detected") == {("text_length",): 0, ("domain",): 1, ("language",): 0}
    assert values_of("linkhub_data_quality") == {("empty_text_rate",): 0.25}
    assert values_of("linkhub_alerts_open") == {
        ("critical",): opened_before["critical"] + 2,
        ("info",): opened_before["info"],
        ("warning",): opened_before["warning"],
    }


def test_queue_depth_counts_messages_waiting_in_the_broker(redis_server):
    import redis

    client = redis.Redis.from_url(redis_server)
    # Queues of this test's own: workers of other test runs may share this Redis and its queues.
    busy, idle = f"metrics-test-{uuid.uuid4().hex}", f"metrics-test-{uuid.uuid4().hex}"
    client.lpush(busy, *[b"{}"] * 3)
    collector = metrics.QueueDepthCollector(queues=[busy, idle])

    def depths() -> dict[str, float]:
        return {s.labels["queue"]: s.value for f in collector.collect() for s in f.samples}

    try:
        assert depths() == {busy: 3, idle: 0}
        client.lpush(busy, b"{}")
        assert depths()[busy] == 3  # read less than 5 s ago: cached
        collector.expire()
        assert depths()[busy] == 4
    finally:
        client.delete(busy)


@pytest.mark.django_db
def test_metrics_without_a_broker_leave_the_queue_depth_out(client, redis_server, monkeypatch):
    from linkhub.celery import app

    metrics.QUEUE_DEPTH.expire()
    assert sample(scrape(client), "linkhub_queue_depth", queue="snapshots") is not None
    monkeypatch.setattr(app.conf, "broker_read_url", "redis://127.0.0.1:1/0")  # nothing listens there
    metrics.QUEUE_DEPTH.expire()
    text = scrape(client)
    assert sample(text, "linkhub_queue_depth", queue="snapshots") is None
    assert "linkhub_snapshots_total" in text  # the rest of the page is served
