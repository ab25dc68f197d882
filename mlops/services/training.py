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

import logging
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from linkhub.accounts.models import Profile
from linkhub.links.models import Link, TagDecision, TaggedLink, TagOrigin
from linkhub.metrics import training_run_ended
from linkhub.queueing import enqueue, enqueue_on_commit

from ..models import ModelVersion, Stage, TrainingRun
from . import registry
from .drift import reference_profile

logger = logging.getLogger(__name__)

HOLDOUT_SHARE = 0.25
HOLDOUT_SEED = 20261126
TEXT_CHARS = 5000  # of the snapshot's readable text, per link


@dataclass
class Dataset:
    examples: list  # list[training.data.Example]
    summary: dict[str, Any]


def consenting_user_ids() -> list[int]:
    return list(Profile.objects.filter(share_for_training=True).values_list("user_id", flat=True))


def collect_examples() -> Dataset:
    """The human-verified training data of consenting users, one example per tagged link."""
    from ..training.data import Example

    users = consenting_user_ids()
    rows = (
        TaggedLink.objects.filter(content_object__owner_id__in=users)
        .exclude(origin=TagOrigin.MODEL)
        .values_list("content_object_id", "tag__key")
    )
    tags: dict[int, set[str]] = {}
    for link_id, key in rows:
        tags.setdefault(link_id, set()).add(key)
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
        },
    )


def dataset_examples(path: str | Path) -> Dataset:
    from ..training.data import load_jsonl

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


def _normalised(example):
    """The URL as LinkHub stores it, so the holdout (a hash of the URL) is the same whether a
    link comes from a dataset file or from people's saved links."""
    from dataclasses import replace

    from linkhub.links.normalize import normalize_url

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
    running = TrainingRun.objects.filter(status__in=[TrainingRun.Status.PENDING, TrainingRun.Status.RUNNING])
    waiting = running.filter(dataset="").first()
    if not dataset and waiting is not None:
        return waiting  # one at a time is enough
    run = TrainingRun.objects.create(trigger=trigger, requested_by=actor, dataset=dataset, design=design)
    if queue:
        enqueue_on_commit("mlops.tasks.train_tag_model", run.pk)
    return run


def _progress(run: TrainingRun):
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


def _train(run: TrainingRun) -> tuple[ModelVersion | None, str, str]:
    from ..training import artifact, data, designs, metrics

    policy = registry.policy_get()
    progress = _progress(run)
    progress(0, 1, "collecting data")
    dataset = dataset_examples(run.dataset) if run.dataset else collect_examples()
    fingerprint = data.fingerprint(dataset.examples)
    TrainingRun.objects.filter(pk=run.pk).update(fingerprint=fingerprint)
    if not run.dataset:
        same = next(
            (
                v
                for v in ModelVersion.objects.filter(data_fingerprint=fingerprint)
                .exclude(stage=Stage.RETIRED)
                .order_by("-number")
                if default_storage.exists(v.artifact_path)
            ),
            None,
        )
        if same is not None:
            return (
                None,
                f"Skipped: the training data has not changed since v{same.number}.",
                TrainingRun.Status.SKIPPED,
            )
    train_set, holdout = data.split(dataset.examples, test_size=HOLDOUT_SHARE, seed=HOLDOUT_SEED)
    if len(train_set) < 10 or not holdout:
        raise ValidationError(
            f"Not enough labelled links to train: {len(dataset.examples)} "
            "(at least 10, and some for the holdout, are needed)."
        )
    design = run.design or designs.default_design()
    started = time.monotonic()
    model = designs.create_design(design)
    model.fit(train_set, min_examples=policy.min_examples, progress=progress)
    if not model.labels:
        raise ValidationError(
            f"No tag has {policy.min_examples} or more examples yet; lower the minimum or label more links."
        )
    train_seconds = time.monotonic() - started
    progress(1, 1, "evaluating on the holdout")
    result = metrics.evaluate(model, holdout)
    per_tag = result.pop("per_tag", {})
    reference = reference_profile(train_set, model, holdout=holdout)  # what drift checks compare with
    production = registry.in_stage(Stage.PRODUCTION)
    production_metrics = None
    production_error = ""
    if production is not None:
        try:
            production_metrics = metrics.evaluate(registry.model_load(production), holdout)
            production_metrics.pop("per_tag", None)
        except Exception as exc:  # the gate fails closed below
            logger.warning("could not evaluate production v%s: %s", production.number, exc)
            production_error = f"{type(exc).__name__}: {exc}"
    gate = registry.gate_check(candidate=result, production=production_metrics, policy=policy)
    if production is not None and production_metrics is None:
        gate.update(
            passed=False,
            reason=f"production v{production.number} could not be evaluated ({production_error}); "
            "nothing moves forward until it can be compared",
        )
    if production is not None:
        gate["production_version"] = production.number
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
        data_fingerprint=fingerprint,
        data_summary={**dataset.summary, "train": len(train_set), "holdout": len(holdout)},
        holdout_fingerprint=data.fingerprint(holdout),
        metrics=result,
        per_tag=per_tag,
        gate=gate,
        train_seconds=round(train_seconds, 3),
        parent=production,
        actor=run.requested_by,
    )
    ModelVersion.objects.filter(pk=version.pk).update(reference=reference)
    from .metrics import offline_metrics_record

    offline_metrics_record(version=version)
    if gate["passed"]:
        to_stage = Stage.PRODUCTION if production is None else Stage.SHADOW
        registry.stage_change(
            version=version,
            to_stage=to_stage,
            actor=None,
            reason=f"passed the promotion gate: {gate['reason']}",
            automatic=True,
        )
        return (
            version,
            f"Trained v{version.number}; it passed the gate and went to {to_stage}.",
            TrainingRun.Status.SUCCEEDED,
        )
    return (
        version,
        f"Trained v{version.number}; it stays a candidate: {gate['reason']}.",
        TrainingRun.Status.SUCCEEDED,
    )


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
    last = TrainingRun.objects.filter(dataset="").order_by("-created_at").first()
    decisions = TagDecision.objects.exclude(action=TagDecision.Action.AUTO_APPLY)
    if last is not None:
        decisions = decisions.filter(at__gt=last.created_at)
    return decisions.count() >= policy.retrain_after_decisions


def training_runs_sweep(*, running_hours: float = 2.0, pending_hours: float = 1.0) -> int:
    """End runs whose worker died (running too long); queue again those never picked up."""
    from datetime import timedelta

    now = timezone.now()
    stale = TrainingRun.objects.filter(
        status=TrainingRun.Status.RUNNING, started_at__lt=now - timedelta(hours=running_hours)
    ).update(
        status=TrainingRun.Status.FAILED,
        finished_at=now,
        message=f"The training worker stopped answering (running for more than {running_hours:g} h).",
    )
    for run_id in TrainingRun.objects.filter(
        status=TrainingRun.Status.PENDING, created_at__lt=now - timedelta(hours=pending_hours)
    ).values_list("pk", flat=True):
        enqueue("mlops.tasks.train_tag_model", run_id)
    return stale
