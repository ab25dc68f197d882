"""Suggestions: score a link with every model that serves its owner, blend, and store what the
policy lets through.

Three sources, blended per tag (the highest score wins and names its model and version; the
explanation says what the others scored):

- **shared**: the shared model's serving version, production, or the canary for the stable share
  of users (by a hash of the user id and the canary's number) while there is a canary. Its tags
  are those of the user's vocabulary (plus the policy's global tags); a user with fewer than
  ``policy.new_tags_below`` tags is also offered up to ``policy.new_tags_max`` tags from the
  shared model's vocabulary, marked as new (``new_tag``) and never auto-applied.
- **personal**: the user's personal model (consent own or shared, enough tagged links;
  ``personal.py``), over the user's own vocabulary.
- **zero-shot**: before the personal model exists (or for consent none, whose data trains
  nothing), the user's tag names ranked against the link by sentence embeddings, at or above
  ``policy.zero_shot_threshold``. Never auto-applied.

Rules for all: a tag already on the link, or one a person rejected or removed on it, is never
suggested. Score >= auto-apply threshold (shared or personal, not new): the tag is applied,
marked as the model's until a person confirms it. Score >= the source's threshold: a proposed
suggestion. A shadow version (and, during a canary, the shared version not serving this user)
scores the link too; its output is stored with ``visible=False``, never shown or applied.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from linkhub.links import services as link_services
from linkhub.links.models import Link, Tag, TagDecision, TaggedLink, tag_key
from linkhub.metrics import PREDICTION_SECONDS, suggestion_made
from snapshots.models import Snapshot

from ..models import ModelVersion, Policy, Stage, Suggestion
from ..training import personal as pm
from ..training.data import TEXT_CHARS, Example
from . import embeddings, personal, registry
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


def _allowed(link: Link, policy: Policy) -> tuple[dict[str, str], dict[str, str], set[str]]:
    """The owner's own tags and the {tag key: display name} they may be suggested (their tags
    and the policy's global tags), and the keys that must not be."""
    own = dict(Tag.objects.filter(owner_id=link.owner_id).values_list("key", "name"))
    vocabulary = dict(own)
    for name in policy.global_tags or []:
        vocabulary.setdefault(tag_key(name), name)
    blocked = set(TaggedLink.objects.filter(content_object=link).values_list("tag__key", flat=True))
    blocked |= rejected_keys(link_ids=[link.pk]).get(link.pk, set())
    return own, vocabulary, blocked


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
    suggest_for_link(link_id=row["link_id"])
    return True


@dataclass
class Candidate:
    key: str
    name: str
    score: float
    source: str
    version: ModelVersion
    explanation: list = field(default_factory=list)
    new_tag: bool = False


def suggest_for_link(*, link_id: int) -> list[Suggestion]:
    """Score one link; store and apply what the policy says. Returns the visible suggestions."""
    link = Link.objects.filter(pk=link_id).first()
    if link is None:
        return []
    try:  # the link's text is final (or the wait for it is over): its embedding is cached now
        embeddings.links_embed([link.pk])
    except embeddings.EmbeddingUnavailable:
        logger.warning("no sentence encoder: personal and zero-shot suggestions are off")
    policy = registry.policy_get()
    serving = serving_version(link.owner_id, policy)
    own_tags, vocabulary, blocked = _allowed(link, policy)
    example = link_example(link)
    model = None
    shared: dict[str, float] = {}
    candidates: list[Candidate] = []
    if serving is not None:
        model = registry.model_load(serving)
        with PREDICTION_SECONDS.labels(role="serving").time():
            scores = model.predict_scores([example])[0]
        shared = {
            key: float(score)
            for label, score in scores.items()
            if (key := tag_key(label)) in vocabulary and key not in blocked
        }
        candidates += [
            Candidate(key, name, score, Suggestion.Source.SHARED, serving, new_tag=True)
            for key, name, score in _new_tags(scores, vocabulary, blocked, policy)
        ]
    own = _own_scores(link, {k: v for k, v in own_tags.items() if k not in blocked})
    candidates += _blended(vocabulary, shared, serving, own, policy)
    chosen = sorted(candidates, key=lambda c: -c.score)[: policy.max_suggestions]
    made: list[Suggestion] = []
    with transaction.atomic():
        # Open suggestions of earlier scorings that this one no longer makes are expired.
        Suggestion.objects.filter(link=link, visible=True, status=Suggestion.Status.PROPOSED).exclude(
            tag_key__in=[c.key for c in chosen]
        ).update(status=Suggestion.Status.EXPIRED, decided_at=timezone.now())
        for c in chosen:
            if c.source == Suggestion.Source.SHARED and model is not None:
                c.explanation = _explain(model, example, c.name) + c.explanation
            suggestion = _store(link, c, c.explanation, visible=True)
            if suggestion is None:
                continue
            if (
                _may_auto_apply(c)
                and c.score >= policy.auto_apply_threshold
                and suggestion.status == Suggestion.Status.PROPOSED
            ):
                _auto_apply(link, suggestion)
            made.append(suggestion)
    if serving is not None:
        _shadow_scores(link, serving, vocabulary, blocked, example, policy)
    return made


def _may_auto_apply(c: Candidate) -> bool:
    return c.source != Suggestion.Source.ZERO_SHOT and not c.new_tag


@dataclass
class OwnScores:
    """The user's own model's scores over their vocabulary: personal, or zero-shot before it."""

    source: str
    version: ModelVersion
    scores: dict[str, float]
    explain: Any  # key -> explanation rows


def _threshold(source: str, policy: Policy) -> float:
    thresholds: dict[str, float] = {
        Suggestion.Source.SHARED: policy.suggest_threshold,
        Suggestion.Source.PERSONAL: policy.personal_threshold,
        Suggestion.Source.ZERO_SHOT: policy.zero_shot_threshold,
    }
    return thresholds[source]


def _blended(
    vocabulary: dict[str, str],
    shared: dict[str, float],
    serving: ModelVersion | None,
    own: OwnScores | None,
    policy: Policy,
) -> list[Candidate]:
    """Per tag of the vocabulary, the blend of the shared score and the user's own model's
    (``personal.blend``), attributed to the source that gave most of it, kept when it reaches
    that source's threshold."""
    own_scores = own.scores if own is not None else {}
    out = []
    for key in sorted(set(shared) | set(own_scores)):
        o, s = own_scores.get(key), shared.get(key)
        trained = own is not None and own.source == Suggestion.Source.PERSONAL
        if not trained and s is not None and s >= policy.auto_apply_threshold:
            o = None  # the shared model is sure enough to apply it: zero-shot does not take it over
        score, who = pm.blend(o, s, policy.blend_shared_weight, trained=trained)
        version: ModelVersion | None
        if who == "own" and own is not None:
            source, version, explanation = own.source, own.version, own.explain(key)
            other = [[f"also: {serving.label}", round(s, 4)]] if s is not None and serving else []
        else:
            source, version, explanation = Suggestion.Source.SHARED, serving, []
            other = [[f"also: {own.version.label}", round(o, 4)]] if o is not None and own else []
        if version is None or score < _threshold(source, policy):
            continue
        out.append(Candidate(key, vocabulary[key], score, source, version, explanation=explanation + other))
    return out


def _new_tags(scores: dict[str, float], vocabulary: dict[str, str], blocked: set[str], policy: Policy):
    """Tags of the shared model's vocabulary for a user whose own is still small."""
    own = len(vocabulary) - len(policy.global_tags or [])
    if policy.new_tags_max <= 0 or own >= policy.new_tags_below:
        return []
    fresh = sorted(
        (
            (key, label, score)
            for label, score in scores.items()
            if (key := tag_key(label)) not in vocabulary
            and key not in blocked
            and score >= policy.new_tag_threshold
        ),
        key=lambda item: -item[2],
    )
    return fresh[: policy.new_tags_max]


def _own_scores(link: Link, own: dict[str, str]) -> OwnScores | None:
    """The personal model's scores of the user's tags ``own`` (not blocked on this link), or
    zero-shot ones before it exists (or for consent none). None when the user has no tags or
    there is no encoder."""
    if not own:
        return None
    try:
        vector = embeddings.link_vectors([link.pk], compute=False).get(link.pk)
    except embeddings.EmbeddingUnavailable:
        return None
    if vector is None:
        return None
    served = personal.personal_model(link.owner_id) if personal.may_train(link.owner_id) else None
    if served is not None:
        model, version, updates = served
        with PREDICTION_SECONDS.labels(role="personal").time():
            scores = {k: v for k, v in model.predict(vector).items() if k in own}
        return OwnScores(
            Suggestion.Source.PERSONAL,
            version,
            scores,
            lambda key: _explain_personal(model, vector, key, own[key], updates),
        )
    names = embeddings.tag_name_vectors(own.values())
    zero = pm.zero_shot(
        own, {k: names[n] for k, n in own.items()}, encoder=embeddings.ENCODER, dim=len(vector)
    )
    with PREDICTION_SECONDS.labels(role="zero-shot").time():
        scores = zero.predict(vector)

    def explain(key: str) -> list:
        cosine = float(vector @ zero.name_vectors[zero._index[key]])
        return [[f"the tag name \u201c{own[key]}\u201d matches the page", round(cosine, 4)]]

    return OwnScores(Suggestion.Source.ZERO_SHOT, personal.zero_shot_version(), scores, explain)


def _explain_personal(model: pm.PersonalModel, vector, key: str, name: str, updates: int) -> list:
    words = {
        "cos_positive": f"like your {model.tag_links(key)} links tagged “{name}”",
        "cos_negative": f"like links where you turned “{name}” down",
        "cos_name": f"the tag name “{name}” matches the page",
    }
    return [
        [words[e.feature], round(e.weight, 4)]
        for e in sorted(model.explain(vector, key), key=lambda e: -abs(e.weight))
        if e.feature in words
    ]


def _explain(model: Any, example, name: str) -> list:
    try:
        return [[term, round(float(w), 4)] for term, w in model.explain(example, name, k=EXPLAIN_TERMS)]
    except Exception:
        logger.exception("explain failed for %s", name)
        return []


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


def _store(link, c: Candidate, explanation: list, *, visible: bool) -> Suggestion | None:
    existing = Suggestion.objects.filter(link=link, tag_key=c.key, model_version=c.version).first()
    if existing is not None:
        if existing.status == Suggestion.Status.EXPIRED:
            existing.status, existing.score = Suggestion.Status.PROPOSED, c.score
            existing.save(update_fields=["status", "score"])
            suggestion_made(existing)
            return existing
        return existing if existing.status in (Suggestion.Status.PROPOSED,) else None
    try:
        with transaction.atomic():
            suggestion = Suggestion.objects.create(
                link=link,
                tag_name=c.name[:100],
                tag_key=c.key[:200],
                score=float(c.score),
                model_version=c.version,
                source=c.source,
                new_tag=c.new_tag,
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
        for v in ModelVersion.objects.shared().filter(
            stage__in=[Stage.SHADOW, Stage.CANARY, Stage.PRODUCTION]
        )
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
            _store(
                link,
                Candidate(key, vocabulary[key], score, Suggestion.Source.SHARED, version),
                [],
                visible=False,
            )
