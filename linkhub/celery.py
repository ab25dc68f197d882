"""The Celery application. Queues: ``snapshots``, ``ml`` and ``default`` (see settings)."""

import os
import sys
from dataclasses import dataclass

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linkhub.settings")

app = Celery("linkhub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def queue_depths(queues) -> dict[str, int]:
    """Messages waiting in each broker queue (on Redis, LLEN of the queue's keys). Fails fast,
    and raises when the broker does not answer: callers decide what no answer means."""
    with app.connection_for_read(
        connect_timeout=2,
        transport_options={"max_retries": 0, "socket_timeout": 2, "socket_connect_timeout": 2},
    ) as conn:
        channel = conn.default_channel
        return {queue: int(channel._size(queue)) for queue in queues}


@dataclass(frozen=True)
class WorkerRole:
    queues: tuple[str, ...]
    concurrency: int
    # A pool process is replaced after this many tasks, so memory that a browser or a library
    # leaks is handed back; the ml worker's model and torch take long to load, hence more.
    max_tasks_per_child: int


# Every kind of worker, for everything that starts one: the run command (linkhub.launcher),
# the Compose services (python -m linkhub.worker) and the tests' real worker.
WORKER_ROLES = {
    "snapshots": WorkerRole(queues=("snapshots", "default"), concurrency=2, max_tasks_per_child=100),
    "ml": WorkerRole(queues=("ml",), concurrency=1, max_tasks_per_child=500),
}


def worker_argv(
    role: str = "snapshots",
    *,
    concurrency: int | None = None,
    name: str | None = None,
    loglevel: str = "INFO",
    without_peers: bool = False,
) -> list[str]:
    """The command line of a Celery worker of ``role``, run by this Python interpreter.

    ``name`` is the node name (Celery's default is ``celery@<host>``). ``without_peers`` skips
    the start-up exchange with other workers (mingle) and the heartbeats between them (gossip):
    a worker of its own, as tests and benchmarks start, is ready sooner."""
    spec = WORKER_ROLES[role]
    argv = [sys.executable, "-m", "celery", "-A", "linkhub", "worker"]
    argv += ["-Q", ",".join(spec.queues), "--concurrency", str(concurrency or spec.concurrency)]
    argv += ["--max-tasks-per-child", str(spec.max_tasks_per_child), "--loglevel", loglevel]
    if name:
        argv += ["-n", name]
    if without_peers:
        argv += ["--without-mingle", "--without-gossip"]
    return argv
