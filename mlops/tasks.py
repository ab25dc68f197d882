"""Celery entry points of the tag model, on the ``ml`` queue: an id in, one service call."""

from __future__ import annotations

from celery import shared_task

from .models import DriftRun, TrainingRun

# The services import this module when they load (to queue these tasks), so the tasks import the
# services when they run: importing them here too would close a cycle in which a service module
# can be only half loaded (drift -> tasks -> training -> "from .drift import ..." fails).


@shared_task(soft_time_limit=60, time_limit=90)
def suggest_tags(link_id: int) -> int:
    from .services import suggest

    return len(suggest.suggest_for_link(link_id=link_id))


@shared_task(soft_time_limit=3300, time_limit=3500)  # under the broker's visibility timeout
def train_tag_model(run_id: int) -> str:
    from .services import training

    return training.training_run(run_id=run_id).status


@shared_task(soft_time_limit=60, time_limit=90)
def scheduled_training() -> int:
    from .services import training

    return training.training_request(trigger=TrainingRun.Trigger.SCHEDULE).pk


@shared_task(soft_time_limit=300, time_limit=360)
def rollout_check() -> dict[str, str]:
    from .services import rollout

    return rollout.rollout_check()


@shared_task(soft_time_limit=300, time_limit=360)
def record_online_metrics() -> int:
    from .services import metrics

    return metrics.online_metrics_record()


@shared_task(soft_time_limit=900, time_limit=960)
def run_drift_check(run_id: int | None = None) -> str:
    """Daily (no id: a new run), or a run someone requested (its id)."""
    from .services import drift

    if run_id is None:
        return drift.drift_run(trigger=DriftRun.Trigger.SCHEDULE).status
    run = drift.drift_run_execute(run_id=run_id)
    return run.status if run is not None else "gone"


@shared_task(soft_time_limit=240, time_limit=270)  # a few slow webhooks (5 s timeouts) fit
def evaluate_alerts() -> dict[str, int]:
    from .services import alerts

    return alerts.alerts_evaluate()


@shared_task(soft_time_limit=60, time_limit=90)
def record_data_quality() -> int:
    from .services import drift

    return drift.quality_metrics_record()
