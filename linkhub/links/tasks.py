"""Celery entry points for links: thin, id in, one service call."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(soft_time_limit=1800, time_limit=1900, acks_late=True)
def import_bookmarks(job_id: int) -> None:
    services.import_run(job_id=job_id)


@shared_task(soft_time_limit=60, time_limit=90)
def sweep_stale_imports() -> int:
    return services.imports_sweep_stale()
