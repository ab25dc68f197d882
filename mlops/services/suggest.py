"""Suggestions: score a link with the serving model and store what it says, under the policy.

- The serving version is production, or the canary for the stable share of users (by a hash of
  the user id and the canary's number) while there is a canary.
- A user is only suggested tags from their own vocabulary, plus the policy's global tags.
- A tag already on the link, or one a person rejected or removed on it, is never suggested.
- Score >= auto-apply threshold: the tag is applied, marked as the model's, until a person
  confirms it. Score >= suggest threshold: a proposed suggestion. Below: hidden (not stored).
- A shadow version (and, during a canary, the version not serving this user) scores the link
  too; its output is stored with ``visible=False`` and never shown or applied.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from linkhub.links import services as link_services
from linkhub.links.models import Link, Tag, TagDecision, TaggedLink, tag_key
from linkhub.metrics import PREDICTION_SECONDS, suggestion_made
from snapshots.models import Snapshot

from ..models import ModelVersion, Policy, Stage, Suggestion
from ..training.data import TEXT_CHARS, Example
from . import registry
from .decisions import rejected_keys

logger = logging.getLogger(__name__)
EXPLAIN_TERMS = 5


def in_canary(user_id: int, canary: ModelVersion, percent: int) -> bool:
    """A stable share of users: the same user stays in (or out of) the same canary."""
    digest = hashlib.sha256(f"canary:{canary.number}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < percent


def serving_version(user_id: int, policy: Policy | None = None) -> ModelVersion | None:
    policy = policy or registry.policy_get()
    canary = registry.in_stage(Stage.CANARY)
    if canary is not None and in_canary(user_id, canary, policy.canary_percent):
        return canary
    return registry.in_stage(Stage.PRODUCTION)


def link_example(link: Link) -> Example:
    return Example(
        url=link.url,
        title=link.title,
        description=link.description,
        text=(link.content_text or "")[:TEXT_CHARS],
        tags=[],
    )


def _allowed(link: Link, policy: Policy) -> tuple[dict[str, str], set[str]]:
    """{tag key: display name} the owner may be suggested, and keys that must not be."""
    vocabulary = dict(Tag.objects.filter(owner_id=link.owner_id).values_list("key", "name"))
    for name in policy.global_tags or []:
        vocabulary.setdefault(tag_key(name), name)
    blocked = set(TaggedLink.objects.filter(content_object=link).values_list("tag__key", flat=True))
    blocked |= rejected_keys(link_ids=[link.pk]).get(link.pk, set())
    return vocabulary, blocked


def _ranked(model: Any, example, vocabulary: dict[str, str], blocked: set[str], policy: Policy):
    scores = model.predict_scores([example])[0]
    ranked = sorted(
        (
            (key, score)
            for label, score in scores.items()
            if (key := tag_key(label)) in vocabulary
            and key not in blocked
            and score >= policy.suggest_threshold
        ),
        key=lambda item: -item[1],
    )
    return ranked[: policy.max_suggestions], scores


def snapshot_wait() -> float | None:
    """How long a new link waits for its first snapshot's text before it is scored without it:
    no wait when links get no snapshot on save."""
    return settings.SUGGEST_SNAPSHOT_WAIT_SECONDS if settings.SNAPSHOT_ON_SAVE else None


def suggest_new_links(*, link_ids: Sequence[int]) -> int:
    """Score new links once: those whose first snapshot has not ended by now (the wait for its
    text is over) or that have none. A link whose first snapshot ended was scored then
    (``suggest_after_snapshot``). Returns how many links were scored."""
    if not ModelVersion.objects.filter(stage=Stage.PRODUCTION).exists():
        return 0
    ended = set(
        Snapshot.objects.filter(
            link_id__in=link_ids, version=1, status__in=[Snapshot.Status.SUCCEEDED, Snapshot.Status.FAILED]
        ).values_list("link_id", flat=True)
    )
    todo = [link_id for link_id in link_ids if link_id not in ended]
    for link_id in todo:
        suggest_for_link(link_id=link_id)
    return len(todo)


def suggest_after_snapshot(*, snapshot_id: int) -> bool:
    """Score a link when a snapshot brought its page's text, or when its first snapshot failed for
    good (a new link then gets its suggestions without the text). True when it scored."""
    row = Snapshot.objects.filter(pk=snapshot_id).values("link_id", "status", "version").first()
    if row is None:
        return False
    first_failed = row["status"] == Snapshot.Status.FAILED and row["version"] == 1
    if row["status"] != Snapshot.Status.SUCCEEDED and not first_failed:
        return False
    if not ModelVersion.objects.filter(stage=Stage.PRODUCTION).exists():
        return False
    suggest_for_link(link_id=row["link_id"])
    return True


def suggest_for_link(*, link_id: int) -> list[Suggestion]:
    """Score one link; store and apply what the policy says. Returns the visible suggestions."""
    link = Link.objects.filter(pk=link_id).first()
    if link is None:
        return []
    policy = registry.policy_get()
    serving = serving_version(link.owner_id, policy)
    if serving is None:
        return []
    vocabulary, blocked = _allowed(link, policy)
    example = link_example(link)
    made: list[Suggestion] = []
    model = registry.model_load(serving)
    with PREDICTION_SECONDS.labels(role="serving").time():
        ranked, _ = _ranked(model, example, vocabulary, blocked, policy)
    with transaction.atomic():
        # Open suggestions of earlier scorings that this one no longer makes are expired.
        Suggestion.objects.filter(link=link, visible=True, status=Suggestion.Status.PROPOSED).exclude(
            tag_key__in=[key for key, _ in ranked]
        ).update(status=Suggestion.Status.EXPIRED, decided_at=timezone.now())
        for key, score in ranked:
            suggestion = _store(link, serving, key, vocabulary[key], score, model, example, visible=True)
            if suggestion is None:
                continue
            if score >= policy.auto_apply_threshold and suggestion.status == Suggestion.Status.PROPOSED:
                _auto_apply(link, suggestion)
            made.append(suggestion)
    _shadow_scores(link, serving, vocabulary, blocked, example, policy)
    return made


def _auto_apply(link: Link, suggestion: Suggestion) -> None:
    """The model applies the tag itself, marked as the model's until a person confirms it."""
    decided = link_services.link_tag_decide(
        link=link,
        name=suggestion.tag_name,
        action=TagDecision.Action.AUTO_APPLY,
        actor=None,
        reason=f"score {suggestion.score:.3f} at or above the auto-apply threshold",
        suggestion_id=suggestion.pk,
        model_version_id=suggestion.model_version_id,
    )
    suggestion.status = Suggestion.Status.AUTO_APPLIED
    suggestion.decision_id = decided.decision.pk
    suggestion.save(update_fields=["status", "decision"])


def _store(link, version, key, name, score, model, example, *, visible: bool) -> Suggestion | None:
    existing = Suggestion.objects.filter(link=link, tag_key=key, model_version=version).first()
    if existing is not None:
        if existing.status == Suggestion.Status.EXPIRED:
            existing.status, existing.score = Suggestion.Status.PROPOSED, score
            existing.save(update_fields=["status", "score"])
            suggestion_made(existing)
            return existing
        return existing if existing.status in (Suggestion.Status.PROPOSED,) else None
    explanation = []
    if visible:
        try:
            explanation = [
                [term, round(float(w), 4)] for term, w in model.explain(example, name, k=EXPLAIN_TERMS)
            ]
        except Exception:
            logger.exception("explain failed for %s", name)
    try:
        with transaction.atomic():
            suggestion = Suggestion.objects.create(
                link=link,
                tag_name=name[:100],
                tag_key=key[:200],
                score=float(score),
                model_version=version,
                visible=visible,
                explanation=explanation,
            )
            suggestion_made(suggestion)
            return suggestion
    except IntegrityError:  # a concurrent scoring of the same link stored it first
        return None


def _shadow_scores(link, serving, vocabulary, blocked, example, policy) -> None:
    """Versions under evaluation score the link too, out of sight."""
    others = [
        v
        for v in ModelVersion.objects.filter(stage__in=[Stage.SHADOW, Stage.CANARY, Stage.PRODUCTION])
        if v.pk != serving.pk
    ]
    for version in others:
        if version.stage == Stage.PRODUCTION and serving.stage != Stage.CANARY:
            continue
        try:
            model = registry.model_load(version)
            with PREDICTION_SECONDS.labels(role="shadow").time():
                ranked, _ = _ranked(model, example, vocabulary, blocked, policy)
        except Exception:
            logger.exception("shadow scoring with v%s failed", version.number)
            continue
        for key, score in ranked:
            _store(link, version, key, vocabulary[key], score, model, example, visible=False)
