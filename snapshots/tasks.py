"""Celery entry points for snapshots: an id in, one service call, the retry policy."""

from __future__ import annotations

import logging
import os

from celery import shared_task
from celery.signals import worker_process_shutdown
from django.conf import settings

from . import pipeline, services
from .renderer.browser import POOL, RENDERER
from .storage import artifacts_collect_garbage

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    acks_late=True,
    soft_time_limit=settings.SNAPSHOT_SOFT_TIME_LIMIT,
    time_limit=settings.SNAPSHOT_TIME_LIMIT,
)
def render_snapshot(self, snapshot_id: int) -> str | None:
    outcome = pipeline.snapshot_run(snapshot_id=snapshot_id, worker=self.request.hostname or "worker")
    if outcome is None:
        return None
    if outcome.retry_in is not None:
        # Transient failure: the row is PENDING again; come back after the backoff.
        services._queue(snapshot_id, countdown=outcome.retry_in)
    return outcome.status


@shared_task(soft_time_limit=60, time_limit=90)
def sweep_snapshots() -> dict[str, int]:
    return services.snapshots_sweep()


@shared_task(soft_time_limit=300, time_limit=360)
def collect_artifact_garbage() -> dict[str, int]:
    return artifacts_collect_garbage()


@shared_task(soft_time_limit=60, time_limit=90)
def run_snapshot_schedules() -> int:
    return services.snapshot_schedules_run()


@worker_process_shutdown.connect
def _close_browser(**kwargs) -> None:
    # On the render thread: Playwright's objects belong to the thread that made them, and from
    # this one closing fails ("Cannot switch to a different thread"). A close that hangs is
    # ended by the renderer's timeout, which kills the browser.
    try:
        RENDERER.run(POOL.close, timeout=30)
    except Exception as exc:
        logger.warning("closing the browser at shutdown failed (pid %s): %s", os.getpid(), exc)
