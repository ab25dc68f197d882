"""Queue Celery work so that a broker outage never turns stored work into an error.

Services name the task they queue (``"snapshots.tasks.render_snapshot"``) instead of importing it:
an app's tasks module imports its services, so the services importing the tasks would make a
cycle. The name is looked up in the Celery app's registry at call time, so a typo fails at once.

Every service queues through ``enqueue`` (now) or ``enqueue_on_commit`` (once the caller's
transaction commits). When the broker does not answer, the rows are already stored and each kind
of work has a sweep that finds what was never queued (PENDING snapshots, PENDING imports, training
runs, drift runs), so the request that stored them still succeeds: a save answers 201, and the
work is queued when the broker is back.

Publishing waits very little: a couple of quick retries cover a broker that restarts, and after a
failure the next calls in the following seconds try once and give up at once instead of waiting
again (an import of thousands of links must not wait for each one).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from typing import Any

import redis.exceptions
from celery.exceptions import NotRegistered
from django.db import transaction
from kombu.exceptions import OperationalError as KombuOperationalError

from linkhub.celery import app

logger = logging.getLogger(__name__)

# What a broker that is down or restarting raises while publishing.
BROKER_ERRORS: tuple[type[BaseException], ...] = (
    KombuOperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ConnectionError,
    TimeoutError,
)
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2, "interval_max": 0.3}
QUICK_PUBLISH = {"max_retries": 0}  # one attempt: a refused connection fails in milliseconds
QUIET_SECONDS = 5.0  # after a failure, don't retry (and don't log again) for this long

_state = threading.local()


def _recently_failed() -> bool:
    return time.monotonic() - getattr(_state, "failed_at", -1e9) < QUIET_SECONDS


def enqueue_failures() -> int:
    """How many publishes failed in this thread so far (a command reports the ones it caused)."""
    return getattr(_state, "failures", 0)


def _task(name: str) -> Any:
    try:
        return app.tasks[name]
    except NotRegistered:
        # Autodiscovery is lazy: a worker runs it at start, a web process on its first queue.
        app.loader.import_default_modules()
        return app.tasks[name]


def enqueue(task_name: str, *args: Any, countdown: float | None = None, **kwargs: Any) -> bool:
    """Publish ``task_name(*args, **kwargs)``; False (logged, never raised) when the broker is away."""
    task = _task(task_name)
    quick = _recently_failed()
    try:
        # Quick is one connection attempt, not retry=False: kombu makes sure of its connection
        # before every publish with the retry policy last used on it (PUBLISH_RETRY: three attempts
        # and 0.4 s) or, with none, until broker_connection_timeout; max_retries=0 is one attempt.
        task.apply_async(
            args,
            kwargs or None,
            countdown=countdown,
            retry=True,
            retry_policy=QUICK_PUBLISH if quick else PUBLISH_RETRY,
        )
    except BROKER_ERRORS as exc:
        level = logging.DEBUG if quick else logging.WARNING
        logger.log(
            level, "queue %s%s: broker unavailable (%s); the sweep will queue it later", task_name, args, exc
        )
        _state.failed_at = time.monotonic()
        _state.failures = enqueue_failures() + 1
        return False
    _state.failed_at = -1e9
    return True


def enqueue_on_commit(task_name: str, *args: Any, countdown: float | None = None, **kwargs: Any) -> None:
    """``enqueue`` once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(functools.partial(enqueue, task_name, *args, countdown=countdown, **kwargs))
