"""Reads of the tag model's rows for pages and exports: open suggestions of a page of links,
versions, training runs, and the facts of a model card. No writes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db.models import Exists, F, FloatField, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Abs, Least
from django.http import Http404
from django.template.loader import render_to_string

from linkhub.accounts.models import ConsentChange
from linkhub.accounts.roles import is_model_owner, is_reviewer
from linkhub.accounts.selectors import training_consent_get
from linkhub.links.models import TaggedLink, TagOrigin

from .models import ModelVersion, PersonalModelState, Policy, Stage, StageEvent, Suggestion, TrainingRun
from .services import personal
from .services.registry import TRANSITIONS
from .training.metric_names import OFFLINE_METRICS, OFFLINE_NAMES

OPEN_STATUSES = (Suggestion.Status.PROPOSED, Suggestion.Status.AUTO_APPLIED)

WORST_TAGS = 10
ROLLS_BACK = (Stage.SHADOW, Stage.CANARY, Stage.PRODUCTION)


# --- suggestions ------------------------------------------------------------------------------


def suggestions_open(*, link_ids: Iterable[int]) -> dict[int, list[Suggestion]]:
    """The visible, unanswered suggestions of each link, best first, in one query for a page."""
    ids = list(link_ids)
    by_link: dict[int, list[Suggestion]] = {pk: [] for pk in ids}
    if not ids:
        return by_link
    # A person's tag edit answers open suggestions a moment after it commits (a task does it):
    # until then, a suggested tag already on the link, or a model tag already taken off, is no chip.
    on_link = TaggedLink.objects.filter(content_object_id=OuterRef("link_id"), tag__key=OuterRef("tag_key"))
    rows = (
        Suggestion.objects.filter(link_id__in=ids, visible=True, status__in=OPEN_STATUSES)
        .filter(
            (Q(status=Suggestion.Status.PROPOSED) & ~Exists(on_link))
            | (Q(status=Suggestion.Status.AUTO_APPLIED) & Exists(on_link.filter(origin=TagOrigin.MODEL)))
        )
        .select_related("model_version")
        .only(
            "id",
            "link_id",
            "tag_name",
            "tag_key",
            "score",
            "status",
            "explanation",
            "created_at",
            "source",
            "new_tag",
            "model_version__id",
            "model_version__number",
            "model_version__kind",
        )
        .order_by("link_id", "-score", "-created_at")
    )
    seen: set[tuple[int, str]] = set()
    for row in rows:
        # Earlier versions may still hold an open suggestion of the same tag: show the best one.
        if (row.link_id, row.tag_key) in seen:
            continue
        seen.add((row.link_id, row.tag_key))
        by_link[row.link_id].append(row)
    return by_link


# --- model pages ------------------------------------------------------------------------------


def models_access(user: AbstractBaseUser | AnonymousUser) -> str:
    """ "manage" for model owners (and superusers), "view" for other staff, else a 404: the model
    pages do not reveal that they exist to anyone else."""
    if not user.is_authenticated:
        raise Http404
    if is_model_owner(user) or getattr(user, "is_superuser", False):
        return "manage"
    if getattr(user, "is_staff", False):
        return "view"
    raise Http404


def can_see_models(user: AbstractBaseUser | AnonymousUser) -> bool:
    try:
        models_access(user)
    except Http404:
        return False
    return True


def dashboard_access(user: AbstractBaseUser | AnonymousUser) -> str:
    """Who may see the dashboard and what they may do there: "manage" for model owners (and
    superusers: acknowledge and snooze alerts), "review" for reviewers (acknowledge), "view" for
    other staff; everyone else gets a 404, as on the model pages."""
    if not user.is_authenticated:
        raise Http404
    if is_model_owner(user) or getattr(user, "is_superuser", False):
        return "manage"
    if is_reviewer(user):
        return "review"
    if getattr(user, "is_staff", False):
        return "view"
    raise Http404


def may_acknowledge_alerts(access: str) -> bool:
    """Model owners and reviewers acknowledge alerts; other staff only look."""
    return access in ("manage", "review")


def may_snooze_alerts(access: str) -> bool:
    """Model owners own the alert rules, so only they snooze them."""
    return access == "manage"


def can_see_dashboard(user: AbstractBaseUser | AnonymousUser) -> bool:
    try:
        dashboard_access(user)
    except Http404:
        return False
    return True


def model_version_list() -> QuerySet[ModelVersion]:
    return ModelVersion.objects.shared().select_related("parent").order_by("-number")


def model_version_get(*, number: int) -> ModelVersion:
    version = (
        ModelVersion.objects.shared().select_related("parent", "created_by").filter(number=number).first()
    )
    if version is None:
        raise Http404
    return version


def model_version_for_export(spec: str | None) -> ModelVersion | None:
    """``N``, ``vN`` or ``production``; without one, production, else the newest version."""
    if spec in (None, "", "production"):
        version = ModelVersion.objects.shared().filter(stage=Stage.PRODUCTION).first()
        if version is None and not spec:
            version = ModelVersion.objects.shared().order_by("-number").first()
        return version
    return ModelVersion.objects.shared().filter(number=int(spec.lstrip("vV"))).first()


def training_run_list(*, limit: int = 10) -> QuerySet[TrainingRun]:
    """The shared model's runs (personal models' runs are on their users' admin pages)."""
    return (
        TrainingRun.objects.filter(owner__isnull=True)
        .select_related("version", "requested_by")
        .order_by("-created_at", "-id")[:limit]
    )


def training_run_get(*, pk: int) -> TrainingRun:
    run = TrainingRun.objects.select_related("version").filter(pk=pk, owner__isnull=True).first()
    if run is None:
        raise Http404
    return run


def next_stages(version: ModelVersion) -> list[str]:
    """Where a version may go from its stage, in the life-cycle's order."""
    allowed = TRANSITIONS.get(version.stage, set())
    return [stage for stage in Stage.values if stage in allowed]


def versions_attach_actions(versions: Iterable[ModelVersion]) -> None:
    """Set ``next_stages`` and ``can_roll_back`` on each version, for its stage forms."""
    for version in versions:
        version.next_stages = next_stages(version)  # type: ignore[attr-defined]
        version.can_roll_back = version.stage in ROLLS_BACK  # type: ignore[attr-defined]


# --- the model card ---------------------------------------------------------------------------


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _per_tag_rows(per_tag: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for tag, values in (per_tag or {}).items():
        values = values if isinstance(values, dict) else {}
        rows.append(
            {
                "tag": tag,
                "precision": _num(values.get("precision")),
                "recall": _num(values.get("recall")),
                "f1": _num(values.get("f1")),
                "support": int(values.get("support") or 0),
            }
        )
    rows.sort(key=lambda r: (-r["support"], r["tag"]))
    return rows


def _gate_rows(gate: dict[str, Any]) -> list[dict[str, Any]]:
    candidate = gate.get("candidate") or {}
    production = gate.get("production") or {}
    # The primary metric first, then the card's order (a JSON column does not keep key order).
    known = list(OFFLINE_NAMES)
    names = sorted(
        {*candidate, *production},
        key=lambda n: (n != gate.get("primary_metric"), known.index(n) if n in known else len(known), n),
    )
    rows: list[dict[str, Any]] = []
    for name in names:
        c, p = _num(candidate.get(name)), _num(production.get(name))
        rows.append(
            {
                "metric": name,
                "candidate": c,
                "production": p,
                "diff": (c - p) if c is not None and p is not None else None,
                "primary": name == gate.get("primary_metric"),
            }
        )
    return rows


def model_card(version: ModelVersion, *, policy: Policy) -> dict[str, Any]:
    """Everything a model card says about a version, for the page and the Markdown export alike."""
    summary = version.data_summary or {}
    metrics = version.metrics or {}
    per_tag = _per_tag_rows(version.per_tag)
    scored = [row for row in per_tag if row["support"] > 0 and row["f1"] is not None]
    worst = sorted(scored, key=lambda r: (r["f1"], -r["support"], r["tag"]))[:WORST_TAGS]
    gate = version.gate or {}
    facts = {
        "number": version.number,
        "design": version.design,
        "labels_count": len(version.labels or []),
        "min_examples": policy.min_examples,
        "source": summary.get("source") or "unknown",
        "examples": summary.get("examples"),
        "train_size": summary.get("train"),
        "holdout_size": summary.get("holdout"),
        "users": summary.get("users"),
        "auto_apply_threshold": policy.auto_apply_threshold,
        "suggest_threshold": policy.suggest_threshold,
        "consent": ", ".join(
            f"{n} at level {level}" for level, n in sorted((summary.get("consent") or {}).items())
        )
        or "not recorded",
        "personal_min_links": policy.personal_min_links,
        "zero_shot_threshold": policy.zero_shot_threshold,
        "new_tags_below": policy.new_tags_below,
        "new_tags_max": policy.new_tags_max,
    }
    intended_use = [
        p.strip() for p in render_to_string("mlops/card_intended_use.txt", facts).split("\n\n") if p.strip()
    ]
    return {
        "version": version,
        "facts": facts,
        "intended_use": intended_use,
        "data_summary": sorted(summary.items()),
        "metrics": [
            {"name": metric.name, "value": _num(metrics.get(metric.name)), "meaning": metric.meaning}
            for metric in OFFLINE_METRICS
        ],
        "metrics_n": metrics.get("n"),
        "metrics_threshold": metrics.get("threshold"),
        "per_tag": per_tag,
        "worst_tags": worst,
        "gate": {
            "recorded": bool(gate),
            "passed": gate.get("passed"),
            "reason": gate.get("reason", ""),
            "primary_metric": gate.get("primary_metric", ""),
            "production_version": gate.get("production_version"),
            "rows": _gate_rows(gate),
        },
        "params": sorted((version.params or {}).items()),
        "stage_events": list(StageEvent.objects.filter(version=version).order_by("at", "id")),
        "policy": policy,
    }


# --- the review queue (admin) -----------------------------------------------------------------


def suggestion_uncertainty(policy: Policy) -> Least:
    """How far a score is from the nearer policy threshold: near 0 the model is least sure
    whether to auto-apply, suggest or hide, so a person's answer teaches it the most."""
    score = F("score")
    return Least(
        Abs(score - Value(float(policy.auto_apply_threshold))),
        Abs(score - Value(float(policy.suggest_threshold))),
        output_field=FloatField(),
    )


def review_queue(
    *,
    user: AbstractBaseUser | AnonymousUser,
    queryset: QuerySet[Suggestion] | None = None,
    policy: Policy | None = None,
) -> QuerySet[Suggestion]:
    """Open, visible suggestions on anyone's links, annotated with ``distance`` (see
    ``suggestion_uncertainty``) and ordered by it in the database, most uncertain first.
    Only reviewers and superusers see any."""
    qs = Suggestion.objects.all() if queryset is None else queryset
    if not (getattr(user, "is_superuser", False) or is_reviewer(user)):
        return qs.none()
    if policy is None:
        # A read: until someone saves a policy, the defaults apply.
        policy = Policy.objects.filter(pk=1).first() or Policy()
    return (
        qs.filter(visible=True, status__in=OPEN_STATUSES)
        .annotate(distance=suggestion_uncertainty(policy))
        .order_by("distance", "created_at", "pk")
    )


@dataclass
class DataUsage:
    """Which model versions were trained with one user's data (``manage.py data_usage``)."""

    consent: str
    history: list[ConsentChange]
    with_data: list[ModelVersion]  # trained on the user's links and decisions
    first_without: ModelVersion | None  # the first one after those trained without them
    unknown: list[ModelVersion]  # trained on decisions before versions recorded whose
    personal: list[ModelVersion] = field(default_factory=list)  # the user's own personal versions


def data_usage(*, user: User) -> DataUsage:
    versions = [
        v
        for v in ModelVersion.objects.shared()
        .order_by("number")
        .only("number", "stage", "created_at", "data_summary")
        if (v.data_summary or {}).get("source") == "decisions"
    ]
    known = [v for v in versions if "user_ids" in v.data_summary]
    with_data = [v for v in known if user.pk in v.data_summary["user_ids"]]
    last = with_data[-1].number if with_data else 0
    first_without = next(
        (v for v in known if v.number > last and user.pk not in v.data_summary["user_ids"]), None
    )
    return DataUsage(
        consent=training_consent_get(user=user),
        history=list(ConsentChange.objects.filter(user=user).order_by("created_at", "id")),
        with_data=with_data,
        first_without=first_without if with_data else None,
        unknown=[v for v in versions if "user_ids" not in v.data_summary],
        personal=list(ModelVersion.objects.personal(user.pk).order_by("number")),
    )


@dataclass
class PersonalStatus:
    """What a user's own settings page says about their suggestions."""

    consent: str
    tagged_links: int
    min_links: int
    version: ModelVersion | None  # the personal version serving them
    updates: int  # incremental updates since it was trained
    last_run: TrainingRun | None  # the last full training of their model
    versions: list[ModelVersion] = field(default_factory=list)  # all their personal versions

    @property
    def to_go(self) -> int:
        return max(self.min_links - self.tagged_links, 0)


def personal_status(*, user: User) -> PersonalStatus:
    policy = Policy.objects.filter(pk=1).first() or Policy()
    state = PersonalModelState.objects.filter(user=user).select_related("version").first()
    tagged = personal.tagged_links(user.pk)
    return PersonalStatus(
        consent=training_consent_get(user=user),
        tagged_links=tagged,
        min_links=policy.personal_min_links,
        version=state.version if state else None,
        updates=state.updates if state else 0,
        last_run=TrainingRun.objects.filter(owner=user, kind=TrainingRun.Kind.FULL).order_by("-pk").first(),
        versions=list(ModelVersion.objects.personal(user.pk).order_by("number")),
    )
