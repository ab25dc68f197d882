"""Training runs: collect human-verified labels, skip unchanged data, train, evaluate on the fixed
holdout, gate against production, register, and move a passing candidate on.

What counts as a label (DESIGN.md, "Train"): tags people set (by hand or by importing their own
bookmarks), suggestions they accepted, and model-applied tags they confirmed. A tag the model
applied and nobody confirmed is not a label; a rejected or removed tag is a negative for that
link (it is never among its positives). Only links of users who consented to shared training
are used. The holdout is fixed: an example is in it when the hash of its URL says so, so it is the
same for every candidate and for production.
"""

from __future__ import annotations

import hashlib
import logging
import platform
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from linkhub.accounts.models import Profile, TrainingConsent
from linkhub.links.models import Link, TagDecision, TaggedLink, TagOrigin
from linkhub.links.normalize import normalize_url
from linkhub.metrics import training_run_ended
from linkhub.queueing import enqueue, enqueue_on_commit

from ..models import ModelVersion, Policy, Stage, TrainingRun
from ..training import artifact, designs, embedding, pipeline
from ..training.data import TEXT_CHARS, Example, fingerprint, load_jsonl  # suggest reads TEXT_CHARS here
from ..training.designs import Progress
from ..training.metrics import evaluate
from . import drift, embeddings, registry
from .metrics import offline_metrics_record

logger = logging.getLogger(__name__)

HOLDOUT_SHARE = 0.25
HOLDOUT_SEED = 20261126

Outcome = tuple[ModelVersion | None, str, str]  # of a run: the version, the run's message, its status


@dataclass
class Dataset:
    examples: list[Example]
    summary: dict[str, Any]


def consenting_user_ids() -> list[int]:
    return list(
        Profile.objects.filter(training_consent=TrainingConsent.SHARED).values_list("user_id", flat=True)
    )


def collect_examples() -> Dataset:
    """The human-verified training data of consenting users, one example per tagged link."""
    users = consenting_user_ids()
    rows = (
        TaggedLink.objects.filter(content_object__owner_id__in=users)
        .exclude(origin=TagOrigin.MODEL)
        .values_list("content_object_id", "tag__key")
    )
    tags: dict[int, set[str]] = {}
    for link_id, key in rows:
        tags.setdefault(link_id, set()).add(key)
    contributors = sorted(
        set(Link.objects.filter(pk__in=list(tags)).values_list("owner_id", flat=True).distinct())
    )
    examples = []
    for link in (
        Link.objects.filter(pk__in=list(tags))
        .only("pk", "url", "title", "description", "content_text")
        .iterator(chunk_size=500)
    ):
        examples.append(
            Example(
                url=link.url,
                title=link.title,
                description=link.description,
                text=(link.content_text or "")[:TEXT_CHARS],
                tags=sorted(tags[link.pk]),
            )
        )
    last_decision = TagDecision.objects.aggregate(n=Max("pk"))["n"] or 0
    return Dataset(
        examples=examples,
        summary={
            "source": "decisions",
            "examples": len(examples),
            "users": len(users),
            "decisions_up_to_id": last_decision,
            "decisions": TagDecision.objects.filter(link_owner_id__in=users).count(),
            **consent_lineage(contributors),
        },
    )


def consent_lineage(user_ids: list[int], level: str = TrainingConsent.SHARED) -> dict:
    """Whose data a version was trained on, and under which consent level: the count per level,
    a fingerprint of the user set, and the ids (``manage.py data_usage`` reads them; pages show
    names to staff only). Every contributor of the shared model is at level ``shared``; a
    personal version has one contributor, at their own level."""
    ids = sorted(set(user_ids))
    return {
        "consent": {str(level): len(ids)},
        "users_fingerprint": hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest(),
        "user_ids": ids,
    }


def dataset_examples(path: str | Path) -> Dataset:
    try:
        examples = [_normalised(e) for e in load_jsonl(path)]
    except FileNotFoundError:
        raise ValidationError({"dataset": f"No such file: {path}"}) from None
    except ValueError as exc:
        raise ValidationError({"dataset": str(exc)}) from None
    if not examples:
        raise ValidationError({"dataset": f"{path} holds no examples."})
    return Dataset(
        examples=examples, summary={"source": f"dataset {Path(path).name}", "examples": len(examples)}
    )


def _normalised(example: Example) -> Example:
    """The URL as LinkHub stores it, so the holdout (a hash of the URL) is the same whether a
    link comes from a dataset file or from people's saved links."""
    try:
        return replace(example, url=normalize_url(example.url))
    except ValidationError:
        return example


@transaction.atomic
def training_request(
    *, trigger: str, actor: User | None = None, dataset: str = "", design: str = "", queue: bool = True
) -> TrainingRun:
    """Queue a training run (model owners, the schedule, or enough new decisions)."""
    if actor is not None:
        registry.check_model_owner(actor)
    running = TrainingRun.objects.filter(
        owner__isnull=True, status__in=[TrainingRun.Status.PENDING, TrainingRun.Status.RUNNING]
    )
    waiting = running.filter(dataset="").first()
    if not dataset and waiting is not None:
        return waiting  # one at a time is enough
    run = TrainingRun.objects.create(trigger=trigger, requested_by=actor, dataset=dataset, design=design)
    if queue:
        enqueue_on_commit("mlops.tasks.train_tag_model", run.pk)
    return run


def _progress(run: TrainingRun) -> Progress:
    """Progress onto the run's row, at most twice a second: a fit reports every fold."""
    last = [0.0]

    def report(done: int, total: int, message: str) -> None:
        now = time.monotonic()
        if now - last[0] < 0.5 and done < total:
            return
        last[0] = now
        TrainingRun.objects.filter(pk=run.pk).update(done=done, total=total, message=message[:500])

    return report


def training_run(*, run_id: int) -> TrainingRun:
    """Carry out one training run; every outcome ends the row (succeeded, skipped or failed)."""
    claimed = TrainingRun.objects.filter(pk=run_id, status=TrainingRun.Status.PENDING).update(
        status=TrainingRun.Status.RUNNING, started_at=timezone.now()
    )
    run = TrainingRun.objects.get(pk=run_id)
    if not claimed:  # finished, or already running elsewhere
        return run
    try:
        version, message, status = _train(run)
    except ValidationError as exc:
        version, message, status = None, " ".join(exc.messages), TrainingRun.Status.FAILED
    except Exception as exc:
        logger.exception("training run %s failed", run.pk)
        version, message, status = (
            None,
            f"Training failed: {type(exc).__name__}: {exc}",
            TrainingRun.Status.FAILED,
        )
    TrainingRun.objects.filter(pk=run.pk).update(
        status=status, message=message[:2000], version=version, finished_at=timezone.now()
    )
    training_run_ended(status=status)
    run.refresh_from_db()
    return run


def _train(run: TrainingRun) -> Outcome:
    policy = registry.policy_get()
    progress = _progress(run)
    progress(0, 1, "collecting data")
    dataset = dataset_examples(run.dataset) if run.dataset else collect_examples()
    data_fingerprint = fingerprint(dataset.examples)
    TrainingRun.objects.filter(pk=run.pk).update(fingerprint=data_fingerprint)
    # A dataset file is trained on whenever asked: someone wants that file's model.
    same = None if run.dataset else _unchanged_since(data_fingerprint)
    if same is not None:
        message = f"Skipped: the training data has not changed since v{same.number}."
        return None, message, TrainingRun.Status.SKIPPED
    design = run.design or designs.default_design()
    trained = _fit(design, dataset, data_fingerprint=data_fingerprint, policy=policy, progress=progress)
    metrics = dict(trained.metrics)
    per_tag = metrics.pop("per_tag", {})  # stored apart; the gate and the history read the rest
    production = registry.in_stage(Stage.PRODUCTION)
    gate = _gate(metrics, holdout=trained.holdout, production=production, policy=policy)
    version = _register(
        run, design, dataset, trained, metrics=metrics, per_tag=per_tag, gate=gate, parent=production
    )
    offline_metrics_record(version=version)
    return _advance(version, gate=gate, first=production is None)


def _unchanged_since(data_fingerprint: str) -> ModelVersion | None:
    """The newest version in use that was trained on exactly this data (and whose artifact is
    still stored): training again would give the same model."""
    return next(
        (
            v
            for v in ModelVersion.objects.shared()
            .filter(data_fingerprint=data_fingerprint)
            .exclude(stage=Stage.RETIRED)
            .order_by("-number")
            if default_storage.exists(v.artifact_path)
        ),
        None,
    )


def _fit(
    design: str, dataset: Dataset, *, data_fingerprint: str, policy: Policy, progress: Progress
) -> pipeline.Trained:
    """Split on the fixed holdout, fit, evaluate: the training pipeline, with what it refuses
    told in words a model owner can act on."""
    try:
        # The embedding designs take the links' cached vectors instead of encoding them again.
        with embedding.vectors_from(embeddings.cached_by_text):
            return pipeline.train(
                design,
                dataset.examples,
                min_examples=policy.min_examples,
                progress=progress,
                test_size=HOLDOUT_SHARE,
                seed=HOLDOUT_SEED,
                data_fingerprint=data_fingerprint,
            )
    except pipeline.TooFewExamples:
        raise ValidationError(
            f"Not enough labelled links to train: {len(dataset.examples)} "
            f"(at least {pipeline.MIN_TRAIN_EXAMPLES}, and some for the holdout, are needed)."
        ) from None
    except designs.NoLabels:
        raise ValidationError(
            f"No tag has {policy.min_examples} or more examples yet; lower the minimum or label more links."
        ) from None


def _gate(
    metrics: dict[str, Any], *, holdout: list[Example], production: ModelVersion | None, policy: Policy
) -> dict[str, Any]:
    """The promotion gate: the candidate's holdout metrics against production's on the same
    holdout. It fails closed when production cannot be evaluated: nothing moves forward blind."""
    if production is None:
        return registry.gate_check(candidate=metrics, production=None, policy=policy)
    try:
        production_metrics = evaluate(registry.model_load(production), holdout)
    except Exception as exc:  # a missing or tampered artifact, a design this install cannot run
        logger.warning("could not evaluate production v%s: %s", production.number, exc)
        gate = registry.gate_check(candidate=metrics, production=None, policy=policy)
        gate.update(
            passed=False,
            reason=f"production v{production.number} could not be evaluated ({type(exc).__name__}: {exc}); "
            "nothing moves forward until it can be compared",
        )
    else:
        production_metrics.pop("per_tag", None)
        gate = registry.gate_check(candidate=metrics, production=production_metrics, policy=policy)
    gate["production_version"] = production.number
    return gate


def _register(
    run: TrainingRun,
    design: str,
    dataset: Dataset,
    trained: pipeline.Trained,
    *,
    metrics: dict[str, Any],
    per_tag: dict[str, Any],
    gate: dict[str, Any],
    parent: ModelVersion | None,
) -> ModelVersion:
    """Store the artifact and register the candidate with its lineage, its holdout metrics and
    the reference profile that drift checks compare with."""
    model, info = trained.model, trained.model.info
    reference = drift.reference_profile(trained.train_set, model, holdout=trained.holdout)
    blob = artifact.dump(model)
    header = artifact.read_header(blob)
    version = registry.version_register(
        data=blob,
        design=design,
        format_version=int(header["format_version"]),
        sklearn_version=str(header.get("sklearn") or ""),
        python_version=platform.python_version(),
        params=_jsonable(
            {
                **model.params,
                **{k: v for k, v in header.items() if k.startswith(("encoder", "torch", "sentence"))},
            }
        ),
        labels=list(model.labels),
        data_fingerprint=info["data_fingerprint"],
        data_summary={**dataset.summary, "train": info["n_train"], "holdout": info["n_holdout"]},
        holdout_fingerprint=info["holdout_fingerprint"],
        metrics=metrics,
        per_tag=per_tag,
        gate=gate,
        train_seconds=info["train_seconds"],
        parent=parent,
        actor=run.requested_by,
    )
    ModelVersion.objects.filter(pk=version.pk).update(reference=reference)
    return version


def _advance(version: ModelVersion, *, gate: dict[str, Any], first: bool) -> Outcome:
    """A candidate that passed the gate moves on: straight to production when there is none
    yet, else to shadow, where the roll-out rules take over."""
    if not gate["passed"]:
        message = f"Trained v{version.number}; it stays a candidate: {gate['reason']}."
        return version, message, TrainingRun.Status.SUCCEEDED
    to_stage = Stage.PRODUCTION if first else Stage.SHADOW
    registry.stage_change(
        version=version,
        to_stage=to_stage,
        actor=None,
        reason=f"passed the promotion gate: {gate['reason']}",
        automatic=True,
    )
    message = f"Trained v{version.number}; it passed the gate and went to {to_stage}."
    return version, message, TrainingRun.Status.SUCCEEDED


def _jsonable(value: Any) -> Any:
    """Parameters as JSON can hold them (tuples become lists, anything odd a string)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def retrain_due() -> bool:
    """Enough new decisions since the last training run on the decisions to train again."""
    policy = registry.policy_get()
    last = TrainingRun.objects.filter(owner__isnull=True, dataset="").order_by("-created_at").first()
    decisions = TagDecision.objects.exclude(action=TagDecision.Action.AUTO_APPLY)
    if last is not None:
        decisions = decisions.filter(at__gt=last.created_at)
    return decisions.count() >= policy.retrain_after_decisions


def training_runs_sweep(*, running_hours: float = 2.0, pending_hours: float = 1.0) -> int:
    """End runs whose worker died (running too long); queue again those never picked up."""
    now = timezone.now()
    stale = TrainingRun.objects.filter(
        status=TrainingRun.Status.RUNNING, started_at__lt=now - timedelta(hours=running_hours)
    ).update(
        status=TrainingRun.Status.FAILED,
        finished_at=now,
        message=f"The training worker stopped answering (running for more than {running_hours:g} h).",
    )
    for run_id in TrainingRun.objects.filter(
        owner__isnull=True,
        status=TrainingRun.Status.PENDING,
        created_at__lt=now - timedelta(hours=pending_hours),
    ).values_list("pk", flat=True):
        enqueue("mlops.tasks.train_tag_model", run_id)
    return stale
