"""What the mlops app does when a lower app announces something (connected in apps.py). Each
receiver only queues a task once the sender's transaction commits."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from linkhub.links.models import TagDecision
from linkhub.links.signals import TagChange
from linkhub.queueing import enqueue_on_commit


def suggest_for_new_links(*, link_ids: list[int], **kwargs: Any) -> None:
    """New links are scored once their first snapshot has brought the page's text (see
    ``snapshot_finished``); this task is the fallback for a snapshot that takes too long."""
    wait = settings.SUGGEST_SNAPSHOT_WAIT_SECONDS if settings.SNAPSHOT_ON_SAVE else 0
    enqueue_on_commit("mlops.tasks.suggest_new_links", list(link_ids), countdown=wait or None)


def suggest_after_snapshot(*, snapshot_id: int, **kwargs: Any) -> None:
    enqueue_on_commit("mlops.tasks.suggest_after_snapshot", snapshot_id)


def answer_suggestions(*, changes: list[TagChange], **kwargs: Any) -> None:
    """People's tag changes that named no suggestion may still answer one."""
    answerable = [
        [c.decision_id, c.origin]
        for c in changes
        if c.suggestion_id is None and c.action in (TagDecision.Action.ADD, TagDecision.Action.REMOVE)
    ]
    if answerable:
        enqueue_on_commit("mlops.tasks.answer_suggestions", answerable)
