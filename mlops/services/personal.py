"""Personal models: one per user with consent ``own`` or ``shared``, trained on that user's own
human-verified tags and decisions only (docs/tag-model.md, "Personal models").

- **First version**: when a user reaches ``policy.personal_min_links`` tagged links (checked on
  each of their decisions), a full training runs; until then the user gets zero-shot
  suggestions (``suggest.py``).
- **Incremental updates**: each decision (accept, reject, add, remove) is applied to the live
  model (``PersonalModelState``) by a task on the ``ml`` queue, within seconds.
- **Full retrain**, by the policy's rule (``retrain_reason``): after
  ``personal_retrain_after_updates`` incremental updates, when the model is older than
  ``personal_retrain_days`` and has new decisions, when the version's acceptance rate falls, or
  after a drift alarm. Every run (full or incremental) is a ``TrainingRun`` with its kind, trigger
  and reason.
- **Per-user gate**: a new version serves only if it is not worse than the serving one on the
  user's most recent tagged links (held out from both). Otherwise it is registered and retired.
- **Automatic rollback**: a version whose acceptance rate falls below its parent's by more than
  ``personal_acceptance_drop`` (over ``personal_acceptance_window`` decisions) gives way to its
  parent.
- **Loading**: workers keep recently used personal models in an LRU
  (``settings.PERSONAL_MODEL_CACHE`` models); a cached copy is checked against the state's
  revision, so an update elsewhere is seen at the next suggestion.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from linkhub.accounts.models import Profile, TrainingConsent
from linkhub.links.models import Link, Tag, TagDecision, TaggedLink, TagOrigin
from linkhub.queueing import enqueue_on_commit

from ..models import (
    DriftRun,
    Kind,
    ModelVersion,
    PersonalModelState,
    Policy,
    Stage,
    Suggestion,
    TrainingRun,
)
from ..training import personal as pm
from . import embeddings, registry
from .decisions import rejected_keys
from .training import consent_lineage

logger = logging.getLogger(__name__)
DESIGN = "personal_prototype"
Action = TagDecision.Action
LEARNING_ACTIONS = (Action.ACCEPT, Action.REJECT, Action.ADD, Action.REMOVE)


# --- who gets one --------------------------------------------------------------------------


def consent_of(user_id: int) -> str:
    consent = Profile.objects.filter(user_id=user_id).values_list("training_consent", flat=True).first()
    return consent or settings.DEFAULT_TRAINING_CONSENT


def may_train(user_id: int) -> bool:
    """Consent ``own`` or ``shared``: the user's data may train their personal model."""
    return consent_of(user_id) in (TrainingConsent.OWN, TrainingConsent.SHARED)


def tagged_links(user_id: int) -> int:
    """Links of the user with at least one tag a person set (not only the model's)."""
    return (
        TaggedLink.objects.filter(content_object__owner_id=user_id)
        .exclude(origin=TagOrigin.MODEL)
        .values("content_object_id")
        .distinct()
        .count()
    )


# --- the user's data -----------------------------------------------------------------------


@dataclass
class UserData:
    link_ids: list[int]  # oldest first
    tags: list[list[str]]
    rejected: list[list[str]]
    vocabulary: dict[str, str]  # key -> name, the user's tags
    last_decision_id: int


def user_data(user_id: int) -> UserData:
    """One user's human-verified tags (never the model's unconfirmed ones) and rejections: the
    only data a personal model sees."""
    rows = (
        TaggedLink.objects.filter(content_object__owner_id=user_id)
        .exclude(origin=TagOrigin.MODEL)
        .values_list("content_object_id", "tag__key")
    )
    by_link: dict[int, set[str]] = {}
    for link_id, key in rows:
        by_link.setdefault(link_id, set()).add(key)
    order = list(
        Link.objects.filter(owner_id=user_id, pk__in=list(by_link))
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)
    )
    rejected = rejected_keys(link_ids=order)
    return UserData(
        link_ids=order,
        tags=[sorted(by_link[i]) for i in order],
        rejected=[sorted(rejected.get(i, set()) - by_link[i]) for i in order],
        vocabulary=dict(Tag.objects.filter(owner_id=user_id).values_list("key", "name")),
        last_decision_id=TagDecision.objects.filter(link_owner_id=user_id).aggregate(n=Max("pk"))["n"] or 0,
    )


def _fit(
    data: UserData, vectors: dict[int, np.ndarray], *, upto: int | None = None, **kwargs: Any
) -> pm.PersonalModel:
    ids = [i for i in data.link_ids[:upto] if i in vectors]
    index = {link_id: n for n, link_id in enumerate(data.link_ids)}
    names = embeddings.tag_name_vectors(data.vocabulary.values())
    return pm.fit(
        np.array([vectors[i] for i in ids]).reshape(len(ids), embeddings.DIM),
        [data.tags[index[i]] for i in ids],
        data.vocabulary,
        {key: names[name] for key, name in data.vocabulary.items()},
        rejected=[data.rejected[index[i]] for i in ids],
        encoder=embeddings.ENCODER,
        **kwargs,
    )


def _recall_on(model: pm.PersonalModel, data: UserData, vectors: dict[int, np.ndarray], start: int) -> float:
    """recall@3 of ``model`` on the user's links from position ``start`` (their most recent)."""
    ids = [i for i in data.link_ids[start:] if i in vectors]
    if not ids or not len(model):
        return 0.0
    index = {link_id: n for n, link_id in enumerate(data.link_ids)}
    scores = model.scores(np.array([vectors[i] for i in ids]))
    y = np.zeros(scores.shape, dtype=bool)
    for row, link_id in enumerate(ids):
        for key in data.tags[index[link_id]]:
            if model.has(key):
                y[row, model._index[key]] = True
    value = pm.recall_at(scores, y, 3)
    return 0.0 if np.isnan(value) else value


# --- full training -------------------------------------------------------------------------


def personal_train_request(*, user_id: int, trigger: str, reason: str) -> None:
    """Queue a full retrain of the user's personal model (on the ``ml`` queue)."""
    enqueue_on_commit("mlops.tasks.train_personal_model", user_id, trigger, reason)


def personal_train(*, user_id: int, trigger: str, reason: str, actor=None) -> TrainingRun:
    """A full training of one user's personal model, gated against the serving one."""
    run = TrainingRun.objects.create(
        owner_id=user_id,
        kind=TrainingRun.Kind.FULL,
        trigger=trigger,
        reason=reason,
        requested_by=actor,
        design=DESIGN,
        status=TrainingRun.Status.RUNNING,
        started_at=timezone.now(),
    )
    policy = registry.policy_get()
    started = time.perf_counter()
    try:
        if not may_train(user_id):
            return _finish(
                run, TrainingRun.Status.SKIPPED, "The user's consent is 'none': nothing is trained."
            )
        data = user_data(user_id)
        if len(data.link_ids) < policy.personal_min_links:
            return _finish(
                run,
                TrainingRun.Status.SKIPPED,
                f"{len(data.link_ids)} tagged links; a personal model needs {policy.personal_min_links}.",
            )
        vectors = embeddings.link_vectors(data.link_ids)
        run.total = len(data.link_ids)
        candidate = _fit(data, vectors)
        state = PersonalModelState.objects.filter(user_id=user_id).select_related("version").first()
        gate = _gate(data, vectors, state, policy)
        version = _register(
            user_id,
            candidate,
            data,
            gate,
            parent=state.version if state else None,
            seconds=time.perf_counter() - started,
            actor=actor,
        )
        run.version = version
        run.done = run.total
        if gate["passed"]:
            _serve(version, candidate, data.last_decision_id, reason=f"{reason}; gate: {gate['verdict']}")
            return _finish(
                run, TrainingRun.Status.SUCCEEDED, f"personal v{version.number} serves: {gate['verdict']}"
            )
        registry.stage_change(
            version=version,
            to_stage=Stage.RETIRED,
            actor=None,
            reason=f"per-user gate: {gate['verdict']}",
            automatic=True,
        )
        return _finish(
            run, TrainingRun.Status.SUCCEEDED, f"personal v{version.number} kept out: {gate['verdict']}"
        )
    except embeddings.EmbeddingUnavailable as exc:
        return _finish(run, TrainingRun.Status.FAILED, f"no sentence encoder: {exc}")
    except Exception as exc:
        logger.exception("personal training of user %s failed", user_id)
        return _finish(run, TrainingRun.Status.FAILED, f"{type(exc).__name__}: {exc}")


def _finish(run: TrainingRun, status: str, message: str) -> TrainingRun:
    run.status, run.message, run.finished_at = status, message[:2000], timezone.now()
    run.save()
    return run


def _gate(data: UserData, vectors, state: PersonalModelState | None, policy: Policy) -> dict[str, Any]:
    """Not worse on the user's most recent tagged links: both weights are fitted (the new ones)
    or kept (the serving ones) with prototypes built from the links before those."""
    if state is None:
        return {"passed": True, "verdict": "first personal version", "holdout": 0}
    holdout = min(policy.personal_gate_links, max(len(data.link_ids) // 3, 1))
    start = len(data.link_ids) - holdout
    serving = _load_state(state)[0]
    new = _fit(data, vectors, upto=start)
    old = _fit(data, vectors, upto=start, default_weights=serving.weights, fit_weights=False)
    new_recall, old_recall = _recall_on(new, data, vectors, start), _recall_on(old, data, vectors, start)
    passed = new_recall >= old_recall - 1e-9
    return {
        "passed": passed,
        "holdout": holdout,
        "recall_at_3": round(new_recall, 4),
        "serving_recall_at_3": round(old_recall, 4),
        "verdict": (
            f"recall@3 {new_recall:.3f} on the {holdout} most recent links, serving v{state.version.number} "
            f"{old_recall:.3f}: {'not worse' if passed else 'worse'}"
        ),
    }


def _register(
    user_id, model: pm.PersonalModel, data: UserData, gate, *, parent, seconds, actor
) -> ModelVersion:
    versions = registry.versions()
    return registry.version_register(
        data=model.to_bytes(),
        design=DESIGN,
        format_version=pm.FORMAT_VERSION,
        sklearn_version=versions["sklearn"],
        python_version=versions["python"],
        params={"encoder": model.encoder, "weights": [round(float(w), 4) for w in model.weights]},
        labels=[model.names[i] for i in range(len(model))],
        data_fingerprint=_fingerprint(data),
        data_summary={
            "source": "personal",
            "examples": len(data.link_ids),
            "decisions_up_to_id": data.last_decision_id,
            **consent_lineage([user_id], consent_of(user_id)),
        },
        holdout_fingerprint="",
        metrics={
            "recall_at_3_recent": gate.get("recall_at_3"),
            "tags": len(model),
            "links": len(data.link_ids),
        },
        per_tag={},
        gate=gate,
        train_seconds=seconds,
        parent=parent,
        actor=actor,
        owner_id=user_id,
    )


def _fingerprint(data: UserData) -> str:
    h = hashlib.sha256()
    for link_id, tags, rejected in zip(data.link_ids, data.tags, data.rejected, strict=True):
        h.update(f"{link_id}:{','.join(tags)}:{','.join(rejected)}\n".encode())
    return h.hexdigest()


@transaction.atomic
def _serve(version: ModelVersion, model: pm.PersonalModel, last_decision_id: int, *, reason: str) -> None:
    """Make ``version`` the user's serving model (production); the previous one retires."""
    registry.stage_change(
        version=version, to_stage=Stage.PRODUCTION, actor=None, reason=reason, automatic=True
    )
    blob = model.to_bytes()
    user_id = version.owner_id
    assert user_id is not None, "a personal version has an owner"
    state = PersonalModelState.objects.select_for_update().filter(user_id=user_id).first()
    if state is None:
        PersonalModelState.objects.create(
            user_id=user_id,
            version=version,
            artifact=blob,
            artifact_size=len(blob),
            last_decision_id=last_decision_id,
        )
        return
    state.version, state.artifact, state.artifact_size = version, blob, len(blob)
    state.revision += 1
    state.updates = 0
    state.last_decision_id = max(state.last_decision_id, last_decision_id)
    state.updated_at = timezone.now()
    state.save()


# --- incremental updates -------------------------------------------------------------------


def personal_update(*, changes: list[tuple[int, str]]) -> int:
    """Apply people's tag decisions to their personal models: ``changes`` are (decision id,
    origin of the tag). Returns how many decisions were applied. A user without a personal model
    who now has enough tagged links gets the first one trained instead."""
    ids = [d for d, _ in changes]
    origin = dict(changes)
    decisions = list(TagDecision.objects.filter(pk__in=ids, action__in=LEARNING_ACTIONS).order_by("pk"))
    by_user: dict[int, list[TagDecision]] = {}
    for d in decisions:
        by_user.setdefault(d.link_owner_id, []).append(d)
    applied = 0
    policy = registry.policy_get()
    for user_id, rows in by_user.items():
        if not may_train(user_id):
            continue
        applied += _update_user(user_id, rows, origin, policy)
    return applied


def _update_user(user_id: int, rows: list[TagDecision], origin: dict[int, str], policy: Policy) -> int:
    started = time.perf_counter()
    with transaction.atomic():
        state = (
            PersonalModelState.objects.select_for_update()
            .filter(user_id=user_id)
            .select_related("version")
            .first()
        )
        if state is None:
            count = tagged_links(user_id)
            if count >= policy.personal_min_links and not _full_pending(user_id):
                personal_train_request(
                    user_id=user_id,
                    trigger=TrainingRun.Trigger.THRESHOLD,
                    reason=f"{count} tagged links reached the policy's {policy.personal_min_links}",
                )
            return 0
        rows = [r for r in rows if r.pk > state.last_decision_id]
        if not rows:
            return 0
        if len(rows) > policy.personal_retrain_after_updates:
            # An import or a bulk edit: one full retrain (a task with a longer time limit, which
            # embeds the new links in batches) instead of that many updates.
            if not _full_pending(user_id):
                personal_train_request(
                    user_id=user_id,
                    trigger=TrainingRun.Trigger.UPDATES,
                    reason=(
                        f"{len(rows)} decisions at once (policy: a full retrain after "
                        f"{policy.personal_retrain_after_updates} updates)"
                    ),
                )
            return 0
        model = _load_state(state)[0]
        model = pm.PersonalModel.from_bytes(model.to_bytes())  # a copy: the cached one stays as it was
        vectors = embeddings.link_vectors({r.link_id for r in rows})
        names = embeddings.tag_name_vectors(
            {r.tag_name for r in rows if r.action in (Action.ADD, Action.ACCEPT)}
        )
        summary = []
        for r in rows:
            vector = vectors.get(r.link_id)
            if vector is None:  # the link is gone
                continue
            if r.action in (Action.ADD, Action.ACCEPT):
                model.tag_add(r.tag_key, r.tag_name, names[r.tag_name])
                model.learn(vector, add=[r.tag_key])
            elif r.action == Action.REMOVE and origin.get(r.pk) != TagOrigin.MODEL:
                model.learn(vector, remove=[r.tag_key])
            else:  # a rejection, or the model's own tag taken off: "not this tag"
                model.learn(vector, reject=[r.tag_key])
            summary.append(f"{r.action} {r.tag_name!r} on link {r.link_id}")
        blob = model.to_bytes()
        state.artifact, state.artifact_size = blob, len(blob)
        state.updates += len(summary)
        state.revision += 1
        state.last_decision_id = rows[-1].pk
        state.updated_at = timezone.now()
        state.save()
        TrainingRun.objects.create(
            owner_id=user_id,
            kind=TrainingRun.Kind.INCREMENTAL,
            trigger=TrainingRun.Trigger.DECISION,
            reason="; ".join(summary)[:2000],
            design=DESIGN,
            status=TrainingRun.Status.SUCCEEDED,
            version=state.version,
            done=len(summary),
            total=len(summary),
            message=f"{len(summary)} decisions applied in {1000 * (time.perf_counter() - started):.1f} ms",
            started_at=timezone.now(),
            finished_at=timezone.now(),
        )
        if state.updates >= policy.personal_retrain_after_updates and not _full_pending(user_id):
            personal_train_request(
                user_id=user_id,
                trigger=TrainingRun.Trigger.UPDATES,
                reason=(
                    f"{state.updates} incremental updates since personal v{state.version.number} "
                    f"(policy: full retrain after {policy.personal_retrain_after_updates})"
                ),
            )
    return len(summary)


def _full_pending(user_id: int) -> bool:
    """A full training of the user's model was asked for in the last few minutes and has not ended."""
    return TrainingRun.objects.filter(
        owner_id=user_id,
        kind=TrainingRun.Kind.FULL,
        status__in=[TrainingRun.Status.PENDING, TrainingRun.Status.RUNNING],
        created_at__gte=timezone.now() - timedelta(minutes=10),
    ).exists()


# --- the rule, checked on a schedule -------------------------------------------------------


def acceptance(version: ModelVersion) -> tuple[float | None, int]:
    """(accepted share, decided count) of a version's visible suggestions."""
    counts = Suggestion.objects.filter(model_version=version, visible=True).aggregate(
        accepted=Count("pk", filter=Q(status=Suggestion.Status.ACCEPTED)),
        decided=Count(
            "pk",
            filter=Q(
                status__in=[
                    Suggestion.Status.ACCEPTED,
                    Suggestion.Status.REJECTED,
                    Suggestion.Status.REVERTED,
                ]
            ),
        ),
    )
    decided = counts["decided"] or 0
    return ((counts["accepted"] or 0) / decided if decided else None), decided


def retrain_reason(
    state: PersonalModelState, policy: Policy, *, drift_since: Any = None
) -> tuple[str, str] | None:
    """(trigger, reason) when the policy's rule says the user's model is due a full retrain."""
    if state.updates >= policy.personal_retrain_after_updates:
        return TrainingRun.Trigger.UPDATES, (
            f"{state.updates} incremental updates "
            f"(policy: full retrain after {policy.personal_retrain_after_updates})"
        )
    age = timezone.now() - state.version.created_at
    if age >= timedelta(days=policy.personal_retrain_days) and state.updates > 0:
        return TrainingRun.Trigger.SCHEDULE, (
            f"personal v{state.version.number} is {age.days} days old with {state.updates} updates since "
            f"(policy: every {policy.personal_retrain_days} days)"
        )
    if (
        drift_since is not None
        and policy.personal_retrain_on_drift
        and drift_since > state.version.created_at
    ):
        return TrainingRun.Trigger.DRIFT, "the drift check found drift since this version was trained"
    fell = acceptance_fall(state.version, policy.personal_acceptance_window)
    if fell is not None and fell[0] - fell[1] > policy.personal_acceptance_drop:
        return TrainingRun.Trigger.ACCEPTANCE, (
            f"acceptance of personal v{state.version.number} fell from {fell[0]:.2f} to {fell[1]:.2f} over "
            f"its last {policy.personal_acceptance_window} answers (policy: retrain on a fall of more than "
            f"{policy.personal_acceptance_drop:.2f})"
        )
    return None


def acceptance_fall(version: ModelVersion, window: int) -> tuple[float, float] | None:
    """(acceptance before, acceptance over the last ``window`` answers) of one version, when it
    has at least ``window`` answers of each; else None."""
    answered = list(
        Suggestion.objects.filter(
            model_version=version,
            visible=True,
            status__in=[Suggestion.Status.ACCEPTED, Suggestion.Status.REJECTED, Suggestion.Status.REVERTED],
        )
        .order_by("-decided_at", "-pk")
        .values_list("status", flat=True)[: 4 * window]
    )
    recent, before = answered[:window], answered[window:]
    if len(recent) < window or len(before) < window:
        return None

    def rate(rows: list[str]) -> float:
        return sum(1 for r in rows if r == Suggestion.Status.ACCEPTED) / len(rows)

    return rate(before), rate(recent)


def personal_check() -> dict[str, int]:
    """The scheduled pass over personal models: roll back versions whose acceptance fell, and
    queue the full retrains the policy's rule calls for."""
    policy = registry.policy_get()
    drift = DriftRun.objects.filter(status=DriftRun.Status.DONE, drifted=True).order_by("-created_at").first()
    drift_since = drift.created_at if drift else None
    out = {"rolled_back": 0, "retrain": 0}
    for state in PersonalModelState.objects.select_related("version", "version__parent").iterator():
        if not may_train(state.user_id):
            continue
        if _acceptance_check(state, policy):
            out["rolled_back"] += 1
            continue
        due = retrain_reason(state, policy, drift_since=drift_since)
        if due and not _full_pending(state.user_id):
            personal_train_request(user_id=state.user_id, trigger=due[0], reason=due[1])
            out["retrain"] += 1
    return out


def _acceptance_check(state: PersonalModelState, policy: Policy) -> bool:
    """Roll back to the parent when this version's acceptance fell below the parent's."""
    version, parent = state.version, state.version.parent
    rate, decided = acceptance(version)
    if rate is None or decided < policy.personal_acceptance_window or parent is None:
        return False
    parent_rate, parent_decided = acceptance(parent)
    if parent_rate is None or parent_decided < policy.personal_acceptance_window:
        return False
    if rate >= parent_rate - policy.personal_acceptance_drop:
        return False
    personal_rollback(
        user_id=state.user_id,
        reason=(
            f"acceptance {rate:.2f} over {decided} decisions, below v{parent.number}'s {parent_rate:.2f} "
            f"by more than {policy.personal_acceptance_drop:.2f}"
        ),
    )
    return True


def personal_rollback(*, user_id: int, reason: str, actor=None) -> ModelVersion | None:
    """Serve the parent of the user's current version again: its weights, on prototypes rebuilt
    from all the user's data now (so no decision since is lost)."""
    state = PersonalModelState.objects.filter(user_id=user_id).select_related("version__parent").first()
    if state is None or state.version.parent is None:
        return None
    parent, current = state.version.parent, state.version
    data = user_data(user_id)
    vectors = embeddings.link_vectors(data.link_ids)
    weights = np.asarray(parent.params.get("weights") or pm.DEFAULT_WEIGHTS, dtype=np.float64)
    model = _fit(data, vectors, default_weights=weights, fit_weights=False)
    with transaction.atomic():
        registry.stage_change(
            version=current,
            to_stage=Stage.RETIRED,
            actor=actor,
            reason=f"rolled back: {reason}",
            automatic=actor is None,
        )
        _serve(
            parent, model, data.last_decision_id, reason=f"rollback of personal v{current.number}: {reason}"
        )
        TrainingRun.objects.create(
            owner_id=user_id,
            kind=TrainingRun.Kind.FULL,
            trigger=TrainingRun.Trigger.ACCEPTANCE,
            reason=f"rollback to v{parent.number}: {reason}",
            design=DESIGN,
            status=TrainingRun.Status.SUCCEEDED,
            version=parent,
            started_at=timezone.now(),
            finished_at=timezone.now(),
        )
    return parent


def consent_change_apply(*, user_id: int, from_consent: str, to_consent: str) -> int:
    """Down to ``none``: the personal model stops serving (returns how many versions retired).
    Other changes act at the next training (``may_train`` is read then)."""
    if to_consent != TrainingConsent.NONE or not from_consent:
        return 0
    return personal_retire(user_id=user_id, reason=f"consent changed from {from_consent} to none")


def personal_retire(*, user_id: int, reason: str) -> int:
    """The user went down to consent ``none``: their personal model stops serving at once and is
    never trained again (its versions stay in the registry, retired, for the audit)."""
    retired = 0
    with transaction.atomic():
        PersonalModelState.objects.filter(user_id=user_id).delete()
        for version in ModelVersion.objects.personal(user_id).exclude(stage=Stage.RETIRED):
            registry.stage_change(
                version=version, to_stage=Stage.RETIRED, actor=None, reason=reason, automatic=True
            )
            retired += 1
        # Its open suggestions go too (tags it applied stay, marked as the model's, for the user).
        Suggestion.objects.filter(
            model_version__kind=Kind.PERSONAL,
            model_version__owner_id=user_id,
            status=Suggestion.Status.PROPOSED,
        ).update(status=Suggestion.Status.EXPIRED, decided_at=timezone.now())
    _cache_drop(user_id)
    return retired


# --- loading (LRU) -------------------------------------------------------------------------

_cache: OrderedDict[int, tuple[int, pm.PersonalModel, ModelVersion]] = OrderedDict()
_cache_lock = threading.Lock()


def _cache_size() -> int:
    return int(getattr(settings, "PERSONAL_MODEL_CACHE", 256))


def _cache_drop(user_id: int) -> None:
    with _cache_lock:
        _cache.pop(user_id, None)


def _load_state(state: PersonalModelState) -> tuple[pm.PersonalModel, ModelVersion]:
    with _cache_lock:
        hit = _cache.get(state.user_id)
        if hit is not None and (hit[0], hit[2].pk) == (state.revision, state.version_id):
            _cache.move_to_end(state.user_id)
            return hit[1], hit[2]
    model = pm.PersonalModel.from_bytes(bytes(state.artifact))
    with _cache_lock:
        _cache[state.user_id] = (state.revision, model, state.version)
        _cache.move_to_end(state.user_id)
        while len(_cache) > _cache_size():
            _cache.popitem(last=False)
    return model, state.version


def personal_model(user_id: int) -> tuple[pm.PersonalModel, ModelVersion, int] | None:
    """The user's serving personal model, its version and its incremental updates, or None.
    One small query checks the cached copy's revision and version: a state made anew (consent
    none, then own again) counts its revisions from 1 again, so the revision alone could match
    a copy of the retired model that another worker still holds."""
    row = (
        PersonalModelState.objects.filter(user_id=user_id).values("revision", "version_id", "updates").first()
    )
    if row is None:
        return None
    with _cache_lock:
        hit = _cache.get(user_id)
        if hit is not None and (hit[0], hit[2].pk) == (row["revision"], row["version_id"]):
            _cache.move_to_end(user_id)
            return hit[1], hit[2], row["updates"]
    state = PersonalModelState.objects.select_related("version").get(user_id=user_id)
    model, version = _load_state(state)
    return model, version, state.updates


def cache_info() -> dict[str, int]:
    with _cache_lock:
        return {"models": len(_cache), "capacity": _cache_size()}


def zero_shot_version() -> ModelVersion:
    """The registry's row for zero-shot suggestions (one per encoder): nothing is trained, but a
    suggestion still names the model and version it came from."""
    design = f"zero_shot:{embeddings.ENCODER}"
    version = ModelVersion.objects.filter(kind=Kind.ZERO_SHOT, design=design).first()
    if version is not None:
        return version
    params = {"encoder": embeddings.ENCODER, "weights": list(pm.ZERO_SHOT_WEIGHTS)}
    sha = hashlib.sha256(repr(params).encode()).hexdigest()
    with transaction.atomic():
        Policy.objects.select_for_update().filter(pk=registry.policy_get().pk).first()
        version = ModelVersion.objects.filter(kind=Kind.ZERO_SHOT, design=design).first()
        if version is None:
            number = (
                ModelVersion.objects.filter(kind=Kind.ZERO_SHOT).aggregate(n=Max("number"))["n"] or 0
            ) + 1
            version = ModelVersion.objects.create(
                number=number,
                kind=Kind.ZERO_SHOT,
                design=design,
                stage=Stage.PRODUCTION,
                artifact_sha256=sha,
                artifact_path="",
                format_version=pm.FORMAT_VERSION,
                sklearn_version=registry.versions()["sklearn"],
                python_version=registry.versions()["python"],
                code_version=registry.code_version(),
                params=params,
                data_fingerprint="",
                data_summary={"source": "none", "examples": 0, "consent": {}, "user_ids": []},
            )
    return version


def artifact_read(version: ModelVersion) -> bytes:
    with default_storage.open(version.artifact_path, "rb") as fh:
        return fh.read()


__all__ = [
    "acceptance",
    "cache_info",
    "consent_change_apply",
    "may_train",
    "personal_check",
    "personal_model",
    "personal_retire",
    "personal_rollback",
    "personal_train",
    "personal_train_request",
    "personal_update",
    "retrain_reason",
    "tagged_links",
    "user_data",
    "zero_shot_version",
]
