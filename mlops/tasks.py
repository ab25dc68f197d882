"""Celery entry points of the tag model, on the ``ml`` queue: an id in, one service call."""

from __future__ import annotations

from celery import shared_task


@shared_task(soft_time_limit=60, time_limit=90)
def suggest_tags(link_id: int) -> int:
    from .services.suggest import suggest_for_link

    return len(suggest_for_link(link_id=link_id))


@shared_task(soft_time_limit=3300, time_limit=3500)  # under the broker's visibility timeout
def train_tag_model(run_id: int) -> str:
    from .services.training import training_run

    return training_run(run_id=run_id).status


@shared_task(soft_time_limit=60, time_limit=90)
def scheduled_training() -> int:
    from .models import TrainingRun
    from .services.training import training_request

    return training_request(trigger=TrainingRun.Trigger.SCHEDULE).pk


@shared_task(soft_time_limit=300, time_limit=360)
def rollout_check() -> dict[str, str]:
    from .services.rollout import rollout_check as check

    return check()


@shared_task(soft_time_limit=300, time_limit=360)
def record_online_metrics() -> int:
    from .services.metrics import online_metrics_record

    return online_metrics_record()
