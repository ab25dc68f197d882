"""The model registry: versions, their artifacts, stage changes, the promotion gate, rollback.

Every stage change is a ``StageEvent`` written in the same transaction, so "which version was in
production at time T" has an answer (``production_at``). At most one version is in each of the
shadow, canary and production stages at a time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import subprocess
import threading
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from linkhub.accounts.roles import is_model_owner

from ..models import Kind, ModelVersion, Policy, Stage, StageEvent
from ..training import artifact
from ..training.metric_names import GATE_METRICS

logger = logging.getLogger(__name__)

# Which stage may follow which. Anything may be retired; a retired version may come back.
TRANSITIONS: dict[str, set[str]] = {
    Stage.CANDIDATE: {Stage.SHADOW, Stage.CANARY, Stage.PRODUCTION, Stage.RETIRED},
    Stage.SHADOW: {Stage.CANARY, Stage.PRODUCTION, Stage.CANDIDATE, Stage.RETIRED},
    Stage.CANARY: {Stage.PRODUCTION, Stage.SHADOW, Stage.CANDIDATE, Stage.RETIRED},
    Stage.PRODUCTION: {Stage.RETIRED},
    Stage.RETIRED: {Stage.CANDIDATE, Stage.SHADOW, Stage.CANARY, Stage.PRODUCTION},
}
SINGLE = (Stage.SHADOW, Stage.CANARY, Stage.PRODUCTION)


def policy_get() -> Policy:
    policy, _ = Policy.objects.get_or_create(pk=1)
    return policy


def code_version() -> str:
    """The commit of the running code (LINKHUB_CODE_VERSION, else git), or "unknown"."""
    if os.environ.get("LINKHUB_CODE_VERSION"):
        return os.environ["LINKHUB_CODE_VERSION"][:64]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],  # noqa: S607 - git from PATH, optional
            cwd=Path(settings.BASE_DIR),
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        return out.stdout.strip()[:64] or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def check_model_owner(actor: User | None) -> None:
    if actor is not None and not (is_model_owner(actor) or actor.is_superuser):
        raise PermissionDenied("Only model owners may do this.")


def artifact_path(sha256: str) -> str:
    return f"models/{sha256[:2]}/{sha256}.bin"


@transaction.atomic
def artifact_store(data: bytes) -> tuple[str, str]:
    """Store an artifact under its SHA-256 (once); returns (sha256, storage path)."""
    sha = hashlib.sha256(data).hexdigest()
    path = artifact_path(sha)
    if not default_storage.exists(path):
        saved = default_storage.save(path, ContentFile(data))
        if saved != path:
            default_storage.delete(saved)
    return sha, path


def versions() -> dict[str, str]:
    """The versions a personal or zero-shot version records in its lineage."""
    try:
        sklearn = metadata.version("scikit-learn")
    except metadata.PackageNotFoundError:
        sklearn = ""
    return {"sklearn": sklearn, "python": platform.python_version()}


@transaction.atomic  # the number is allocated under the policy row's lock
def version_register(
    *,
    data: bytes,
    design: str,
    format_version: int,
    sklearn_version: str,
    python_version: str,
    params: dict[str, Any],
    labels: list[str],
    data_fingerprint: str,
    data_summary: dict[str, Any],
    holdout_fingerprint: str,
    metrics: dict[str, Any],
    per_tag: dict[str, Any],
    gate: dict[str, Any],
    train_seconds: float,
    parent: ModelVersion | None,
    actor: User | None,
    owner_id: int | None = None,
) -> ModelVersion:
    """Store the artifact (content-addressed) and register a new candidate version: of the
    shared model, or with ``owner_id`` of that user's personal model (numbered per user)."""
    sha, path = artifact_store(data)
    policy_row = Policy.objects.select_for_update().filter(pk=policy_get().pk)  # serialise numbers
    policy_row.first()
    siblings = ModelVersion.objects.shared() if owner_id is None else ModelVersion.objects.personal(owner_id)
    number = (siblings.aggregate(n=Max("number"))["n"] or 0) + 1
    version = ModelVersion.objects.create(
        number=number,
        kind=Kind.SHARED if owner_id is None else Kind.PERSONAL,
        owner_id=owner_id,
        design=design,
        artifact_sha256=sha,
        artifact_path=path,
        artifact_size=len(data),
        format_version=format_version,
        sklearn_version=sklearn_version,
        python_version=python_version,
        code_version=code_version(),
        params=params,
        labels=labels,
        data_fingerprint=data_fingerprint,
        data_summary=data_summary,
        holdout_fingerprint=holdout_fingerprint,
        metrics=metrics,
        per_tag=per_tag,
        gate=gate,
        train_seconds=train_seconds,
        parent=parent,
        created_by=actor,
    )
    StageEvent.objects.create(
        version=version,
        from_stage="",
        to_stage=Stage.CANDIDATE,
        actor=actor,
        actor_name=actor.get_username() if actor else "system",
        automatic=actor is None,
        reason=f"trained from {data_summary.get('source', 'data')}",
    )
    return version


@transaction.atomic
def stage_change(
    *,
    version: ModelVersion,
    to_stage: str,
    actor: User | None,
    reason: str,
    automatic: bool = False,
) -> ModelVersion:
    """Move a version to a stage, with its audit row. ``actor=None`` is the system (a rule)."""
    check_model_owner(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Give a reason for the change of stage."})
    if to_stage not in Stage.values:
        raise ValidationError({"stage": f"Unknown stage; use one of {', '.join(Stage.values)}."})
    version = ModelVersion.objects.select_for_update().get(pk=version.pk)
    if version.kind != Kind.SHARED and to_stage in (Stage.SHADOW, Stage.CANARY):
        raise ValidationError(
            {"stage": f"{version.label} rolls out without shadow or canary: its user's gate decides."}
        )
    if to_stage == version.stage:
        raise ValidationError({"stage": f"v{version.number} is already in {to_stage}."})
    if to_stage not in TRANSITIONS[version.stage]:
        raise ValidationError({"stage": f"v{version.number} cannot go from {version.stage} to {to_stage}."})
    now = timezone.now()
    if to_stage in SINGLE:
        for other in (
            ModelVersion.objects.select_for_update()
            .filter(stage=to_stage, kind=version.kind, owner=version.owner_id)
            .exclude(pk=version.pk)
        ):
            # The one it replaces: an old production version retires, a displaced shadow or
            # canary goes back to being a candidate.
            back = Stage.RETIRED if to_stage == Stage.PRODUCTION else Stage.CANDIDATE
            _move(
                other, back, actor, f"replaced in {to_stage} by v{version.number}: {reason}", automatic, now
            )
    _move(version, to_stage, actor, reason, automatic, now)
    return version


def _move(
    version: ModelVersion, to_stage: str, actor: User | None, reason: str, automatic: bool, now
) -> None:
    StageEvent.objects.create(
        version=version,
        from_stage=version.stage,
        to_stage=to_stage,
        actor=actor,
        actor_name=actor.get_username() if actor else "system",
        automatic=automatic or actor is None,
        reason=reason,
        at=now,
    )
    version.stage = to_stage
    version.stage_changed_at = now
    version.save(update_fields=["stage", "stage_changed_at"])
    logger.info("model v%s -> %s (%s)", version.number, to_stage, reason)


@transaction.atomic
def rollback(
    *, version: ModelVersion, actor: User | None, reason: str, automatic: bool = False
) -> ModelVersion:
    """Take a version out of use. A shadow or canary version retires; a production version
    retires and the version that was in production before it comes back."""
    check_model_owner(actor)
    if not (reason or "").strip():
        raise ValidationError({"reason": "Give a reason for the rollback."})
    version = ModelVersion.objects.select_for_update().get(pk=version.pk)
    if version.stage in (Stage.SHADOW, Stage.CANARY):
        return stage_change(
            version=version,
            to_stage=Stage.RETIRED,
            actor=actor,
            reason=f"rolled back: {reason}",
            automatic=automatic,
        )
    if version.stage != Stage.PRODUCTION:
        raise ValidationError(
            {"stage": f"v{version.number} is {version.stage}: only shadow, canary or production roll back."}
        )
    previous = (
        StageEvent.objects.filter(
            Q(to_stage=Stage.PRODUCTION) | Q(from_stage=Stage.PRODUCTION),
            at__lte=version.stage_changed_at,
            version__kind=version.kind,
            version__owner_id=version.owner_id,
        )
        .exclude(version=version)
        .select_related("version")
        .order_by("-at", "-id")
        .first()
    )
    if previous is None:
        raise ValidationError({"stage": "There is no earlier production version to roll back to."})
    return stage_change(
        version=previous.version,
        to_stage=Stage.PRODUCTION,
        actor=actor,
        reason=f"rollback of v{version.number}: {reason}",
        automatic=automatic,
    )


def production_at(moment: datetime) -> ModelVersion | None:
    """The version that was in production at ``moment``, from the stage events."""
    last = (
        StageEvent.objects.filter(at__lte=moment, to_stage=Stage.PRODUCTION, version__kind=Kind.SHARED)
        .order_by("-at", "-id")
        .select_related("version")
        .first()
    )
    if last is None:
        return None
    left = StageEvent.objects.filter(
        version=last.version, from_stage=Stage.PRODUCTION, at__gt=last.at, at__lte=moment
    ).exists()
    return None if left else last.version


def in_stage(stage: str) -> ModelVersion | None:
    return ModelVersion.objects.shared().filter(stage=stage).first()


# --- loading --------------------------------------------------------------------------------

_cache: dict[tuple[int, str], Any] = {}
_cache_lock = threading.Lock()


def model_load(version: ModelVersion) -> Any:
    """The trained model of a version, verified against its SHA-256 first; cached per process."""
    key = (version.number, version.artifact_sha256)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    with default_storage.open(version.artifact_path, "rb") as fh:
        data = fh.read()
    model = artifact.load(data, expected_sha256=version.artifact_sha256)
    with _cache_lock:
        if len(_cache) >= 4:  # production, canary, shadow and one more
            _cache.pop(next(iter(_cache)))
        _cache[key] = model
    return model


# --- the promotion gate -----------------------------------------------------------------------


def gate_check(*, candidate: dict[str, float], production: dict[str, float] | None, policy: Policy) -> dict:
    """Compare a candidate's holdout metrics with production's on the same holdout.

    It passes when it beats production on the primary metric by at least the margin and is no
    worse than the tolerance on every other metric. Without a production version it passes."""
    primary = policy.primary_metric
    if production is None:
        return {
            "passed": True,
            "reason": "no production version to compare with",
            "primary_metric": primary,
            "candidate": candidate,
            "production": None,
        }
    failures = []
    diff = candidate.get(primary, 0.0) - production.get(primary, 0.0)
    if diff < policy.gate_margin:
        failures.append(
            f"{primary} {candidate.get(primary, 0):.4f} vs production {production.get(primary, 0):.4f}: "
            f"needs to be better by {policy.gate_margin:.4f}"
        )
    for name in GATE_METRICS:
        if name == primary or name not in candidate or name not in production:
            continue
        if candidate[name] < production[name] - policy.gate_tolerance:
            failures.append(
                f"{name} {candidate[name]:.4f} is worse than production's {production[name]:.4f} "
                f"by more than {policy.gate_tolerance:.4f}"
            )
    return {
        "passed": not failures,
        "reason": "; ".join(failures) if failures else f"{primary} better by {diff:.4f}, nothing worse",
        "primary_metric": primary,
        "candidate": {k: candidate.get(k) for k in GATE_METRICS},
        "production": {k: production.get(k) for k in GATE_METRICS},
    }
