"""Queue Celery work so that a broker outage never turns stored work into an error.

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
from celery import Task
from django.db import transaction
from kombu.exceptions import OperationalError as KombuOperationalError

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


def broker_unavailable_recently() -> bool:
    """True when a publish from this thread failed in the last few seconds (commands report it)."""
    return _recently_failed()


def enqueue(task: Task, *args: Any, countdown: float | None = None, **kwargs: Any) -> bool:
    """Publish ``task(*args, **kwargs)``; False (logged, never raised) when the broker is away."""
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
            level, "queue %s%s: broker unavailable (%s); the sweep will queue it later", task.name, args, exc
        )
        _state.failed_at = time.monotonic()
        return False
    _state.failed_at = -1e9
    return True


def enqueue_on_commit(task: Task, *args: Any, countdown: float | None = None, **kwargs: Any) -> None:
    """``enqueue`` once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(functools.partial(enqueue, task, *args, countdown=countdown, **kwargs))
