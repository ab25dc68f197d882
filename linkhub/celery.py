"""The Celery application. Queues: ``snapshots``, ``ml`` and ``default`` (see settings)."""

import os

from celery import Celery
from celery.signals import worker_init, worker_process_shutdown

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


# The worker's metrics (linkhub/metrics.py). That module imports prometheus_client, which must
# not be imported before settings (under pytest they take PROMETHEUS_MULTIPROC_DIR away), and
# this module is imported before them: hence the imports inside.
@worker_init.connect
def _serve_worker_metrics(**kwargs) -> None:
    from .metrics import worker_metrics_serve

    worker_metrics_serve()


@worker_process_shutdown.connect
def _pool_process_dead(pid: int | None = None, **kwargs) -> None:
    from .metrics import process_dead

    process_dead(pid)
