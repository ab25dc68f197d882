"""Celery entry points of the tag model, on the ``ml`` queue: an id in, one service call."""

from __future__ import annotations

from celery import shared_task

from .models import DriftRun, TrainingRun
from .services import alerts, decisions, drift, embeddings, metrics, personal, rollout, suggest, training


@shared_task(soft_time_limit=60, time_limit=90)
def suggest_tags(link_id: int) -> int:
    return len(suggest.suggest_for_link(link_id=link_id))


@shared_task(soft_time_limit=300, time_limit=330)
def suggest_new_links(link_ids: list[int]) -> int:
    return suggest.suggest_new_links(link_ids=link_ids)


@shared_task(soft_time_limit=60, time_limit=90)
def suggest_after_snapshot(snapshot_id: int) -> bool:
    return suggest.suggest_after_snapshot(snapshot_id=snapshot_id)


@shared_task(soft_time_limit=120, time_limit=150)
def answer_suggestions(changes: list[list]) -> int:
    return decisions.suggestions_answer(changes=[(int(d), str(o)) for d, o in changes])


@shared_task(soft_time_limit=3300, time_limit=3500)  # under the broker's visibility timeout
def train_tag_model(run_id: int) -> str:
    return training.training_run(run_id=run_id).status


@shared_task(soft_time_limit=60, time_limit=90)
def scheduled_training() -> int:
    return training.training_request(trigger=TrainingRun.Trigger.SCHEDULE).pk


@shared_task(soft_time_limit=300, time_limit=360)
def rollout_check() -> dict[str, str]:
    return rollout.rollout_check()


@shared_task(soft_time_limit=300, time_limit=360)
def record_online_metrics() -> int:
    return metrics.online_metrics_record()


@shared_task(soft_time_limit=900, time_limit=960)
def run_drift_check(run_id: int | None = None) -> str:
    """Daily (no id: a new run), or a run someone requested (its id)."""
    if run_id is None:
        return drift.drift_run(trigger=DriftRun.Trigger.SCHEDULE).status
    run = drift.drift_run_execute(run_id=run_id)
    return run.status if run is not None else "gone"


@shared_task(soft_time_limit=240, time_limit=270)  # a few slow webhooks (5 s timeouts) fit
def evaluate_alerts() -> dict[str, int]:
    return alerts.alerts_evaluate()


@shared_task(soft_time_limit=60, time_limit=90)
def record_data_quality() -> int:
    return drift.quality_metrics_record()


@shared_task(soft_time_limit=60, time_limit=90)
def update_personal_models(changes: list[list]) -> int:
    """Decisions, applied to their users' personal models (incremental updates)."""
    return personal.personal_update(changes=[(int(d), str(o)) for d, o in changes])


@shared_task(soft_time_limit=600, time_limit=660)
def train_personal_model(user_id: int, trigger: str, reason: str) -> str:
    return personal.personal_train(user_id=user_id, trigger=trigger, reason=reason).status


@shared_task(soft_time_limit=60, time_limit=90)
def apply_consent_change(user_id: int, from_consent: str, to_consent: str) -> int:
    return personal.consent_change_apply(user_id=user_id, from_consent=from_consent, to_consent=to_consent)


@shared_task(soft_time_limit=600, time_limit=660)
def check_personal_models() -> dict[str, int]:
    """The policy's rule for personal models: rollbacks and full retrains that are due."""
    return personal.personal_check()


@shared_task(soft_time_limit=600, time_limit=660)
def embed_links(link_ids: list[int]) -> int:
    return embeddings.links_embed([int(i) for i in link_ids])
