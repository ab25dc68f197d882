"""A real Prometheus scrapes a live LinkHub on loopback: the web app's /metrics and a real Celery
worker's /metrics. The metrics of both arrive, and the rules of deploy/prometheus evaluate on them
without error.

The worker serves /metrics on the port in LINKHUB_WORKER_METRICS_PORT (9808 in docker compose);
this test gives it a free one. The web app is pytest-django's live server.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from snapshots.models import Snapshot
from snapshots.tests.worker_fixture import wait_for

PROMETHEUS = "/usr/bin/prometheus"
RULES = Path(django_settings.BASE_DIR) / "deploy" / "prometheus" / "rules"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.browser,  # the worker renders one page, so that it has a snapshot to count
    pytest.mark.snapshots,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.access(PROMETHEUS, os.X_OK),
        reason=f"{PROMETHEUS} is missing (Debian: apt-get install prometheus; deploy/check.sh installs it)",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 5) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def _api(base: str, path: str, **params: str):
    body = _get(f"{base}{path}?{urllib.parse.urlencode(params)}" if params else f"{base}{path}")
    if body is None:
        return None
    reply = json.loads(body)
    assert reply["status"] == "success", reply
    return reply["data"]


def _query(base: str, promql: str) -> dict[str, float]:
    """An instant query, as {job: value} (the series of one job are summed)."""
    data = _api(base, "/api/v1/query", query=promql) or {"result": []}
    values: dict[str, float] = {}
    for series in data["result"]:
        job = series["metric"].get("job", "")
        values[job] = values.get(job, 0.0) + float(series["value"][1])
    return values


def test_prometheus_scrapes_web_and_worker_metrics(
    live_server, fixture_site, alice_api, start_worker, monkeypatch, tmp_path
):
    worker_port = _free_port()
    # start_worker passes the test's environment on to the worker process.
    monkeypatch.setenv("LINKHUB_WORKER_METRICS_PORT", str(worker_port))
    start_worker()

    # Work for both sides to count: a snapshot the worker renders, requests the web app answers.
    r = alice_api.post("/api/links/", {"url": fixture_site("/styled")}, format="json")
    assert r.status_code == 201
    link_id = r.json()["id"]

    def finished():
        snap = Snapshot.objects.filter(link_id=link_id).first()
        return snap if snap and snap.is_finished else None

    snap = wait_for(finished, 90, "the worker to finish the snapshot")
    assert snap.status == "succeeded", snap.failure_message
    for _ in range(3):
        assert _get(f"{live_server.url}/healthz") is not None

    worker_metrics = f"http://127.0.0.1:{worker_port}/metrics"
    wait_for(
        lambda: _get(worker_metrics),
        30,
        f"the Celery worker to serve {worker_metrics} (the port in LINKHUB_WORKER_METRICS_PORT)",
    )

    web = urllib.parse.urlsplit(live_server.url).netloc
    prom_port = _free_port()
    prom = f"http://127.0.0.1:{prom_port}"
    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(  # JSON is YAML
            {
                "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(RULES / "*.yml")],
                "scrape_configs": [
                    {"job_name": "linkhub-web", "static_configs": [{"targets": [web]}]},
                    {
                        "job_name": "linkhub-worker",
                        "static_configs": [{"targets": [f"127.0.0.1:{worker_port}"]}],
                    },
                ],
            }
        )
    )
    log_path = tmp_path / "prometheus.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(  # noqa: S603 - a fixed binary and arguments of our own
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    try:

        def both_up():
            data = _api(prom, "/api/v1/targets", state="active")
            if not data:
                return None
            health = {t["labels"]["job"]: t["health"] for t in data["activeTargets"]}
            return data if health == {"linkhub-web": "up", "linkhub-worker": "up"} else None

        try:
            wait_for(both_up, 60, "Prometheus to scrape both targets")
        except AssertionError:
            targets = _api(prom, "/api/v1/targets") or {}
            errors = {t["scrapeUrl"]: t["lastError"] for t in targets.get("activeTargets", [])}
            raise AssertionError(f"targets not up: {errors}\n{log_path.read_text()[-3000:]}") from None

        assert _query(prom, "up") == {"linkhub-web": 1.0, "linkhub-worker": 1.0}

        # A scrape or two after both were up, every metric below has been stored.
        web_requests = wait_for(
            lambda: _query(prom, 'sum by (job) (django_http_requests_total_by_method_total{method="GET"})'),
            15,
            "django_http_requests_total_by_method_total from the web app",
        )
        assert web_requests["linkhub-web"] >= 3  # the /healthz calls, at least

        snapshots = wait_for(
            lambda: _query(prom, 'linkhub_snapshots_total{outcome="succeeded"}'),
            15,
            'linkhub_snapshots_total{outcome="succeeded"} from the worker',
        )
        assert snapshots == {"linkhub-worker": 1.0}
        stages = _query(prom, 'linkhub_snapshot_stage_seconds_count{stage="total"}')
        assert stages == {"linkhub-worker": 1.0}

        # The rules of deploy/prometheus run on this data: every group evaluated, no rule in error.
        def rules_evaluated():
            groups = (_api(prom, "/api/v1/rules") or {}).get("groups", [])
            rules = [rule for g in groups for rule in g["rules"]]
            return rules if rules and all(r["health"] != "unknown" for r in rules) else None

        rules = wait_for(rules_evaluated, 15, "Prometheus to evaluate the rules of deploy/prometheus/rules")
        broken = {r["name"]: r.get("lastError") for r in rules if r["health"] != "ok"}
        assert not broken
        assert {"LinkHubWorkerDown", "linkhub:snapshot_failures:ratio_15m"} <= {r["name"] for r in rules}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
