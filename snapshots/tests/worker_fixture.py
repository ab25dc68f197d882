"""A real Celery worker as a subprocess, on the test's own database, broker and storage."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from django.conf import settings as django_settings
from django.db import connection

from linkhub.celery import worker_argv


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def start_worker(redis_server, settings, tmp_path):
    """Start ``celery worker`` as a real subprocess on this test's database, broker and storage."""
    procs: list[subprocess.Popen] = []

    def start(extra_env: dict[str, str] | None = None) -> subprocess.Popen:
        env = dict(os.environ)
        # Metrics as deployed: the worker adds up its own multiprocess directory (its main and pool
        # processes); it serves them only on a port a test asks for.
        metrics_dir = tmp_path / f"prometheus-{len(procs)}"
        metrics_dir.mkdir()
        env.setdefault("LINKHUB_WORKER_METRICS_PORT", "0")
        env.setdefault("LINKHUB_WORKER_METRICS_ADDR", "127.0.0.1")
        env.update(
            PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
            DATABASE_URL=_database_url(),
            MEDIA_ROOT=str(settings.MEDIA_ROOT),
            LINKHUB_VAR_DIR=str(django_settings.VAR_DIR),
            SNAPSHOT_ALLOWED_NETWORKS="127.0.0.0/8",
            SNAPSHOT_NAV_TIMEOUT="30",
            SNAPSHOT_SETTLE_TIMEOUT="3",
            SNAPSHOT_RETRY_BASE_SECONDS="0.5",
            DJANGO_ALLOW_ASYNC_UNSAFE="true",
        )
        env.update(extra_env or {})
        if not django_settings.EMBEDDED_REDIS:
            env["REDIS_URL"] = django_settings.REDIS_URL
        log = open(tmp_path / f"worker-{len(procs)}.log", "wb")
        proc = subprocess.Popen(
            worker_argv("snapshots", concurrency=1, name=f"test{len(procs)}@%h", without_peers=True),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=str(django_settings.BASE_DIR),
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")
