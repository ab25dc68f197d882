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


@shared_task(soft_time_limit=900, time_limit=960)
def run_drift_check(run_id: int | None = None) -> str:
    """Daily (no id: a new run), or a run someone requested (its id)."""
    from .models import DriftRun
    from .services.drift import drift_run, drift_run_execute

    if run_id is None:
        return drift_run(trigger=DriftRun.Trigger.SCHEDULE).status
    run = drift_run_execute(run_id=run_id)
    return run.status if run is not None else "gone"


@shared_task(soft_time_limit=240, time_limit=270)  # a few slow webhooks (5 s timeouts) fit
def evaluate_alerts() -> dict[str, int]:
    from .services.alerts import alerts_evaluate

    return alerts_evaluate()


@shared_task(soft_time_limit=60, time_limit=90)
def record_data_quality() -> int:
    from .services.drift import quality_metrics_record

    return quality_metrics_record()
