"""Metric history: offline metrics per version, and online metrics measured against human
decisions, per version over time.

Online metrics over a window, per model version (visible suggestions only):
- ``online_acceptance_rate``: accepted / (accepted + rejected + reverted) of its suggestions
  that people answered in the window (an auto-applied tag a person confirmed is accepted; one
  they took off is reverted).
- ``online_override_rate``: of the people's decisions in the window on links the version scored,
  the share that went against it: a rejection, a revert, or a tag added that it did not suggest.
- ``online_precision_at_3``: of its top three suggestions per link, answered in the window, the
  share people kept.
For shadow (hidden) output: ``shadow_agreement`` (overlap of its suggestions with the serving
version's on the same links, Jaccard) and ``shadow_precision`` (the share of its hidden
suggestions that people ended up tagging).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.db.models import Min, Q
from django.utils import timezone

from linkhub.links.models import TagDecision, TaggedLink, TagOrigin

from ..models import Kind, MetricPoint, ModelVersion, Stage, Suggestion
from ..training.metric_names import OFFLINE_NAMES

KEPT = (Suggestion.Status.ACCEPTED,)
TURNED_DOWN = (Suggestion.Status.REJECTED, Suggestion.Status.REVERTED)


def offline_metrics_record(*, version: ModelVersion) -> None:
    now = timezone.now()
    MetricPoint.objects.bulk_create(
        [
            MetricPoint(
                name=f"offline_{name}",
                model_version=version,
                value=float(version.metrics[name]),
                count=int(version.metrics.get("n", 0)),
                recorded_at=now,
            )
            for name in OFFLINE_NAMES
            if isinstance(version.metrics.get(name), int | float)
        ]
    )


def acceptance(version: ModelVersion, since, until) -> tuple[float | None, int]:
    answered = Suggestion.objects.filter(
        model_version=version, visible=True, decided_at__gte=since, decided_at__lt=until
    )
    kept = answered.filter(status__in=KEPT).count()
    down = answered.filter(status__in=TURNED_DOWN).count()
    total = kept + down
    return (kept / total if total else None), total


def _override(version: ModelVersion, since, until) -> tuple[float | None, int]:
    scored_links = Suggestion.objects.filter(model_version=version, visible=True).values("link_id")
    decisions = TagDecision.objects.filter(link_id__in=scored_links, at__gte=since, at__lt=until).exclude(
        action=TagDecision.Action.AUTO_APPLY
    )
    suggested = set(
        Suggestion.objects.filter(model_version=version, visible=True).values_list("link_id", "tag_key")
    )
    first_scored = dict(
        Suggestion.objects.filter(model_version=version, visible=True)
        .values("link_id")
        .annotate(first=Min("created_at"))
        .values_list("link_id", "first")
    )
    against = total = 0
    rows = list(decisions.values_list("pk", "link_id", "tag_key", "action", "suggestion_id", "at"))
    # A removal answered a suggestion when it named it, or when the suggestion was closed by it.
    closed_by = set(
        Suggestion.objects.filter(
            decision_id__in=[r[0] for r in rows if r[3] == TagDecision.Action.REMOVE]
        ).values_list("decision_id", flat=True)
    )
    for pk, link_id, key, action, suggestion_id, at in rows:
        if action == TagDecision.Action.ADD and at < first_scored.get(link_id, at):
            continue  # a tag typed before the model scored the link is no miss of the model's
        total += 1
        if action == TagDecision.Action.REJECT:
            against += 1
        elif action == TagDecision.Action.REMOVE and (suggestion_id is not None or pk in closed_by):
            against += 1  # took off a tag the model applied
        elif action == TagDecision.Action.ADD and (link_id, key) not in suggested:
            against += 1  # the model missed it
    return (against / total if total else None), total


def _precision_at_3(version: ModelVersion, since, until) -> tuple[float | None, int]:
    rows = (
        Suggestion.objects.filter(
            model_version=version, visible=True, decided_at__gte=since, decided_at__lt=until
        )
        .exclude(status=Suggestion.Status.EXPIRED)
        .values_list("link_id", "score", "status")
    )
    per_link: dict[int, list[tuple[float, str]]] = defaultdict(list)
    for link_id, score, status in rows:
        per_link[link_id].append((score, status))
    hits = total = 0
    for items in per_link.values():
        for _, status in sorted(items, reverse=True)[:3]:
            if status in KEPT or status in TURNED_DOWN:
                total += 1
                hits += status in KEPT
    return (hits / total if total else None), total


def _shadow(version: ModelVersion, since, until) -> dict[str, tuple[float | None, int]]:
    hidden = Suggestion.objects.filter(
        model_version=version, visible=False, created_at__gte=since, created_at__lt=until
    )
    by_link: dict[int, set[str]] = defaultdict(set)
    for link_id, key in hidden.values_list("link_id", "tag_key"):
        by_link[link_id].add(key)
    if not by_link:
        return {}
    shown: dict[int, set[str]] = defaultdict(set)
    for link_id, key in Suggestion.objects.filter(link_id__in=list(by_link), visible=True).values_list(
        "link_id", "tag_key"
    ):
        shown[link_id].add(key)
    jaccard = [
        len(keys & shown[lid]) / len(keys | shown[lid]) if keys | shown[lid] else 1.0
        for lid, keys in by_link.items()
    ]
    tagged = set(
        TaggedLink.objects.filter(content_object_id__in=list(by_link))
        .exclude(origin=TagOrigin.MODEL)
        .values_list("content_object_id", "tag__key")
    )
    pairs = [(lid, key) for lid, keys in by_link.items() for key in keys]
    kept = sum(1 for pair in pairs if pair in tagged)
    return {
        "shadow_agreement": (sum(jaccard) / len(jaccard), len(jaccard)),
        "shadow_precision": (kept / len(pairs) if pairs else None, len(pairs)),
    }


def online_metrics_record(*, window: timedelta = timedelta(hours=24), until=None) -> int:
    """Measure every version in use (or answered recently) over the window; store the points."""
    until = until or timezone.now()
    since = until - window
    # Personal versions are measured per user by the per-user gate (services/personal.py), not here.
    versions = (
        ModelVersion.objects.exclude(kind=Kind.PERSONAL)
        .filter(
            Q(stage__in=[Stage.SHADOW, Stage.CANARY, Stage.PRODUCTION])
            | Q(suggestions__decided_at__gte=since)
        )
        .distinct()
    )
    points = []
    for version in versions:
        values = {
            "online_acceptance_rate": acceptance(version, since, until),
            "online_override_rate": _override(version, since, until),
            "online_precision_at_3": _precision_at_3(version, since, until),
            **_shadow(version, since, until),
        }
        for name, (value, count) in values.items():
            if value is None:
                continue
            points.append(
                MetricPoint(
                    name=name,
                    model_version=version,
                    value=value,
                    count=count,
                    window_start=since,
                    window_end=until,
                    labels={"stage": version.stage},
                    recorded_at=until,
                )
            )
    MetricPoint.objects.bulk_create(points)
    return len(points)
