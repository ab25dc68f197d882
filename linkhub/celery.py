"""The Celery application. Queues: ``snapshots``, ``ml`` and ``default`` (see settings)."""

import os

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
