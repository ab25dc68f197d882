"""A real Celery worker as a subprocess, on the test's own database, broker and storage."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection

from linkhub.celery import worker_argv
from linkhub.embedded import redis_server_binary


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_env(settings, directory: Path, *, redis_url: str | None = None, extra_env=None) -> dict[str, str]:
    """The environment of a LinkHub process (web server, worker, sweep) started by a test: the
    test's database, storage and broker (``redis_url`` for a broker of the test's own), metrics in
    a directory of its own, and the fixture site reachable by the renderer."""
    env = dict(os.environ)
    metrics_dir = directory / "prometheus"
    metrics_dir.mkdir(parents=True, exist_ok=True)
    env.setdefault("LINKHUB_WORKER_METRICS_PORT", "0")
    env.setdefault("LINKHUB_WORKER_METRICS_ADDR", "127.0.0.1")
    env.update(
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        DATABASE_URL=_database_url(),
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        LINKHUB_VAR_DIR=str(django_settings.VAR_DIR),
        LINKHUB_PLAIN_STATIC="true",
        SNAPSHOT_ALLOWED_NETWORKS="127.0.0.0/8",
        SNAPSHOT_NAV_TIMEOUT="30",
        SNAPSHOT_SETTLE_TIMEOUT="3",
        SNAPSHOT_RETRY_BASE_SECONDS="0.5",
        DJANGO_ALLOW_ASYNC_UNSAFE="true",
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    elif not django_settings.EMBEDDED_REDIS:
        env["REDIS_URL"] = django_settings.REDIS_URL
    env.update(extra_env or {})
    return env


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture
def start_worker(redis_server, settings, tmp_path):
    """Start ``celery worker`` as a real subprocess on this test's database, broker and storage
    (or on ``redis_url``, a broker the test runs itself)."""
    procs: list[subprocess.Popen] = []

    def start(
        extra_env: dict[str, str] | None = None, *, redis_url: str | None = None, concurrency: int = 1
    ) -> subprocess.Popen:
        # Metrics as deployed: the worker adds up its own multiprocess directory (its main and pool
        # processes); it serves them only on a port a test asks for.
        env = app_env(settings, tmp_path / f"worker-{len(procs)}", redis_url=redis_url, extra_env=extra_env)
        log = open(tmp_path / f"worker-{len(procs)}.log", "wb")
        proc = subprocess.Popen(
            worker_argv(
                "snapshots", concurrency=concurrency, name=f"test{len(procs)}@%h", without_peers=True
            ),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=str(django_settings.BASE_DIR),
        )
        proc.log_path = log.name  # type: ignore[attr-defined]
        procs.append(proc)
        return proc

    yield start
    _stop(procs)


class RedisServer:
    """A redis-server of the test's own on a loopback port, to stop and start again (the shared
    one is never stopped). Nothing is kept on disk: a restart loses every queued message."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = directory
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @staticmethod
    def binary() -> str:
        # The deployment's own: the wheel's binary for the embedded default, else the system one.
        if not django_settings.EMBEDDED_REDIS and shutil.which("redis-server"):
            return str(shutil.which("redis-server"))
        return redis_server_binary()

    def ping(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1).ping())
        except (redis.ConnectionError, redis.TimeoutError):
            return False

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = open(self.directory / f"redis-{self.starts}.log", "wb")
        self.starts += 1
        self.proc = subprocess.Popen(
            [
                self.binary(),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--daemonize",
                "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(lambda: self.ping() or self.proc.poll() is not None, 15, "redis-server to answer")
        assert self.proc.poll() is None, f"redis-server exited: {Path(log.name).read_text()}"

    def stop(self) -> None:
        """SIGTERM, as an orchestrator restarting it would; with --save "" nothing is written."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)


@pytest.fixture
def own_redis(tmp_path):
    """A running redis-server of this test's own; ``own_redis.url`` is its REDIS_URL."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    if server.proc is not None and server.proc.poll() is None:
        server.proc.kill()
        server.proc.wait(timeout=10)


class WebServer:
    def __init__(self, proc: subprocess.Popen, url: str, log_path: Path) -> None:
        self.proc, self.url, self.log_path = proc, url, log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def start_web(settings, tmp_path):
    """Start the web app as deployed (gunicorn with ``linkhub.gunicorn_conf``) on a free loopback
    port, on this test's database and storage and on ``redis_url``'s broker."""
    procs: list[subprocess.Popen] = []

    def start(*, redis_url: str | None = None, workers: int = 2, extra_env=None) -> WebServer:
        port = free_port()
        env = app_env(settings, tmp_path / f"web-{len(procs)}", redis_url=redis_url, extra_env=extra_env)
        log_path = tmp_path / f"web-{len(procs)}.log"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "linkhub.wsgi:application",
                "-c",
                "python:linkhub.gunicorn_conf",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--timeout",
                "60",
                "--access-logfile",
                "-",
                "--access-logformat",
                '%(h)s "%(r)s" %(s)s %(b)s %(M)sms',
                "--no-control-socket",  # gunicorn's default socket is one per machine, not per server
            ],
            env=env,
            stdout=open(log_path, "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=str(django_settings.BASE_DIR),
        )
        procs.append(proc)
        server = WebServer(proc, f"http://127.0.0.1:{port}", log_path)

        def up() -> bool:
            assert proc.poll() is None, f"gunicorn exited:\n{server.log()[-3000:]}"
            try:
                return httpx.get(server.url + "/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, 60, "the web server")
        return server

    yield start
    _stop(procs)


SWEEP_LOOP = """
import json, os, sys
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linkhub.settings")
django.setup()
from snapshots.services import snapshots_sweep
for _ in sys.stdin:
    print(json.dumps(snapshots_sweep()), flush=True)
"""


class Sweeper:
    """``snapshots_sweep`` in a process of its own (as beat would run it), on a given broker."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc

    def sweep(self, timeout: float = 60) -> dict[str, int]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("sweep\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        assert ready, "the sweep did not answer"
        line = self.proc.stdout.readline()
        assert line, f"the sweep process exited with {self.proc.poll()}"
        return json.loads(line)


@pytest.fixture
def start_sweeper(settings, tmp_path):
    procs: list[subprocess.Popen] = []

    def start(*, redis_url: str | None = None, extra_env=None) -> Sweeper:
        env = app_env(settings, tmp_path / f"sweep-{len(procs)}", redis_url=redis_url, extra_env=extra_env)
        proc = subprocess.Popen(
            [sys.executable, "-c", SWEEP_LOOP],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(tmp_path / f"sweep-{len(procs)}.log", "wb"),
            text=True,
            start_new_session=True,
            cwd=str(django_settings.BASE_DIR),
        )
        procs.append(proc)
        return Sweeper(proc)

    yield start
    _stop(procs)


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")
