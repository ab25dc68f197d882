"""What the mlops app does when a lower app announces something (connected in apps.py). Each
receiver only queues a task once the sender's transaction commits."""

from __future__ import annotations

from typing import Any

from linkhub.links.signals import TagChange
from linkhub.queueing import enqueue_on_commit

from .services import suggest


def suggest_for_new_links(*, link_ids: list[int], **kwargs: Any) -> None:
    """New links are scored once their first snapshot has brought the page's text (see
    ``snapshot_finished``); this task is the fallback for a snapshot that takes too long."""
    enqueue_on_commit("mlops.tasks.suggest_new_links", list(link_ids), countdown=suggest.snapshot_wait())


def suggest_after_snapshot(*, snapshot_id: int, **kwargs: Any) -> None:
    enqueue_on_commit("mlops.tasks.suggest_after_snapshot", snapshot_id)


def answer_suggestions(*, changes: list[TagChange], **kwargs: Any) -> None:
    """People's tag changes may answer open suggestions (the service decides which do)."""
    enqueue_on_commit("mlops.tasks.answer_suggestions", [[c.decision_id, c.origin] for c in changes])


def personal_update(*, changes: list[TagChange], **kwargs: Any) -> None:
    """People's decisions update their personal models (the service decides which changes are
    decisions a model learns from, and whose model may learn)."""
    enqueue_on_commit("mlops.tasks.update_personal_models", [[c.decision_id, c.origin] for c in changes])


def consent_changed(*, user_id: int, from_consent: str, to_consent: str, **kwargs: Any) -> None:
    """What a change of consent does to the user's personal model (the service decides)."""
    enqueue_on_commit("mlops.tasks.apply_consent_change", user_id, from_consent, to_consent)
