"""Stages, the gate, shadow to canary, automatic canary rollback and promotion, history, API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from mlops.models import MetricPoint, ModelVersion, Policy, Stage, StageEvent, Suggestion
from mlops.services import registry
from mlops.services.metrics import online_metrics_record
from mlops.services.rollout import rollout_check
from mlops.services.suggest import in_canary

pytestmark = pytest.mark.django_db


def answer(link, version, tag, status, *, visible=True, at=None, score=0.6):
    from linkhub.links.models import tag_key

    return Suggestion.objects.create(
        link=link,
        tag_name=tag,
        tag_key=tag_key(tag),
        score=score,
        model_version=version,
        status=status,
        visible=visible,
        decided_at=at or timezone.now(),
    )


def test_gate_refuses_a_worse_candidate_and_passes_a_better_one():
    policy = Policy(primary_metric="recall_at_3", gate_margin=0.01, gate_tolerance=0.02)
    production = {"recall_at_3": 0.80, "precision_at_1": 0.70, "micro_f1": 0.5}
    worse = registry.gate_check(
        candidate={"recall_at_3": 0.78, "precision_at_1": 0.7}, production=production, policy=policy
    )
    assert not worse["passed"] and "recall_at_3" in worse["reason"]
    tie = registry.gate_check(
        candidate={"recall_at_3": 0.805, "precision_at_1": 0.7}, production=production, policy=policy
    )
    assert not tie["passed"]  # better, but not by the margin
    trade = registry.gate_check(
        candidate={"recall_at_3": 0.85, "precision_at_1": 0.60}, production=production, policy=policy
    )
    assert not trade["passed"] and "precision_at_1" in trade["reason"]  # worse elsewhere
    better = registry.gate_check(
        candidate={"recall_at_3": 0.85, "precision_at_1": 0.69}, production=production, policy=policy
    )
    assert better["passed"]
    assert registry.gate_check(candidate={"recall_at_3": 0.1}, production=None, policy=policy)["passed"]


def test_stage_changes_are_audited_single_per_stage_and_owner_only(alice, owner_of_models, make_version):
    first = make_version(Stage.PRODUCTION)
    second = make_version(Stage.CANDIDATE)
    with pytest.raises(PermissionDenied):
        registry.stage_change(version=second, to_stage=Stage.SHADOW, actor=alice, reason="try")
    with pytest.raises(ValidationError):
        registry.stage_change(version=second, to_stage=Stage.SHADOW, actor=owner_of_models, reason="")
    registry.stage_change(version=second, to_stage=Stage.PRODUCTION, actor=owner_of_models, reason="better")
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.stage, second.stage) == (Stage.RETIRED, Stage.PRODUCTION)
    events = list(
        StageEvent.objects.order_by("id").values_list(
            "version__number", "from_stage", "to_stage", "actor_name"
        )
    )
    assert events == [
        (first.number, "production", "retired", "mo"),
        (second.number, "candidate", "production", "mo"),
    ]
    # Manual rollback brings the previous production version back.
    registry.rollback(version=second, actor=owner_of_models, reason="complaints")
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.stage, second.stage) == (Stage.PRODUCTION, Stage.RETIRED)


def test_which_version_was_in_production_at_any_time(owner_of_models, make_version):
    v1 = make_version(Stage.CANDIDATE)
    v2 = make_version(Stage.CANDIDATE)
    t0 = timezone.now()
    registry.stage_change(version=v1, to_stage=Stage.PRODUCTION, actor=owner_of_models, reason="first")
    t1 = timezone.now()
    registry.stage_change(version=v2, to_stage=Stage.PRODUCTION, actor=owner_of_models, reason="second")
    t2 = timezone.now()
    registry.rollback(version=ModelVersion.objects.get(pk=v2.pk), actor=owner_of_models, reason="bad")
    t3 = timezone.now()
    assert registry.production_at(t0 - timedelta(seconds=1)) is None
    assert registry.production_at(t1).number == v1.number
    assert registry.production_at(t2).number == v2.number
    assert registry.production_at(t3).number == v1.number


def test_canary_share_is_stable_and_near_the_percent(make_version):
    canary = make_version(Stage.CANARY)
    picks = [in_canary(uid, canary, 20) for uid in range(2000)]
    assert 0.16 < sum(picks) / len(picks) < 0.24
    assert picks == [in_canary(uid, canary, 20) for uid in range(2000)]


def test_shadow_goes_to_canary_after_enough_links(alice, make_link, make_version):
    Policy.objects.update_or_create(pk=1, defaults={"shadow_min_links": 3})
    make_version(Stage.PRODUCTION)
    shadow = make_version(Stage.SHADOW, stage_changed_at=timezone.now() - timedelta(hours=1))
    links = [make_link(alice, f"https://example.com/{i}") for i in range(3)]
    for link in links[:2]:
        answer(link, shadow, "x", Suggestion.Status.PROPOSED, visible=False)
    assert rollout_check() == {}
    answer(links[2], shadow, "x", Suggestion.Status.PROPOSED, visible=False)
    assert rollout_check() == {"shadow": f"v{shadow.number} to canary"}
    shadow.refresh_from_db()
    assert shadow.stage == Stage.CANARY
    event = StageEvent.objects.filter(version=shadow).latest("at")
    assert event.automatic and event.actor_name == "system" and "scored 3 links" in event.reason


def test_a_worse_canary_is_rolled_back_automatically(alice, make_link, make_version):
    Policy.objects.update_or_create(pk=1, defaults={"canary_min_decisions": 10, "canary_max_drop": 0.05})
    production = make_version(Stage.PRODUCTION)
    canary = make_version(Stage.CANARY, stage_changed_at=timezone.now() - timedelta(hours=1))
    link = make_link(alice, "https://example.com/a")
    for i in range(10):  # production: 8 of 10 kept
        answer(link, production, f"p{i}", Suggestion.Status.ACCEPTED if i < 8 else Suggestion.Status.REJECTED)
    for i in range(9):  # canary: not enough answers yet
        answer(link, canary, f"c{i}", Suggestion.Status.ACCEPTED if i < 4 else Suggestion.Status.REJECTED)
    assert rollout_check() == {}
    answer(link, canary, "c9", Suggestion.Status.REVERTED)  # 4 of 10 kept: far worse
    assert rollout_check() == {"canary": f"v{canary.number} rolled back"}
    canary.refresh_from_db()
    production.refresh_from_db()
    assert (canary.stage, production.stage) == (Stage.RETIRED, Stage.PRODUCTION)
    event = StageEvent.objects.filter(version=canary).latest("at")
    assert (
        event.automatic
        and "rolled back" in event.reason
        and "0.400" in event.reason
        and "0.800" in event.reason
    )


def test_a_good_canary_is_promoted_automatically(alice, make_link, make_version):
    Policy.objects.update_or_create(pk=1, defaults={"canary_min_decisions": 4, "canary_max_drop": 0.05})
    production = make_version(Stage.PRODUCTION)
    canary = make_version(Stage.CANARY, stage_changed_at=timezone.now() - timedelta(hours=1))
    link = make_link(alice, "https://example.com/a")
    for i in range(4):
        answer(link, production, f"p{i}", Suggestion.Status.ACCEPTED if i < 3 else Suggestion.Status.REJECTED)
        answer(link, canary, f"c{i}", Suggestion.Status.ACCEPTED if i < 3 else Suggestion.Status.REJECTED)
    assert rollout_check() == {"canary": f"v{canary.number} to production"}
    production.refresh_from_db()
    assert production.stage == Stage.RETIRED


def test_online_metrics_are_stored_per_version(alice, make_link, make_version):
    version = make_version(Stage.PRODUCTION)
    link = make_link(alice, "https://example.com/a")
    answer(link, version, "a", Suggestion.Status.ACCEPTED, score=0.9)
    answer(link, version, "b", Suggestion.Status.ACCEPTED, score=0.8)
    answer(link, version, "c", Suggestion.Status.ACCEPTED, score=0.7)
    answer(link, version, "d", Suggestion.Status.REJECTED, score=0.5)
    assert online_metrics_record() >= 2
    points = dict(MetricPoint.objects.filter(model_version=version).values_list("name", "value"))
    assert points["online_acceptance_rate"] == pytest.approx(0.75)
    assert points["online_precision_at_3"] == pytest.approx(1.0)  # the top three by score: all kept


def test_registry_api(alice_api, api_client_for, owner_of_models, make_version):
    version = make_version(Stage.CANDIDATE, metrics={"recall_at_3": 0.9})
    assert alice_api.get("/api/mlops/models/").status_code == 403
    owner = api_client_for(owner_of_models)
    listing = owner.get("/api/mlops/models/").json()
    assert (
        listing["count"] == 1
        and listing["results"][0]["lineage"]["artifact_sha256"] == version.artifact_sha256
    )
    assert (
        alice_api.post(
            f"/api/mlops/models/{version.number}/promote/", {"stage": "shadow", "reason": "x"}
        ).status_code
        == 403
    )
    response = owner.post(f"/api/mlops/models/{version.number}/promote/", {"stage": "shadow"}, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    response = owner.post(
        f"/api/mlops/models/{version.number}/promote/",
        {"stage": "shadow", "reason": "looks good"},
        format="json",
    )
    assert response.status_code == 200 and response.json()["stage"] == "shadow"
    assert response.json()["stage_events"][0]["reason"] == "looks good"
    response = owner.post(f"/api/mlops/models/{version.number}/rollback/", {"reason": "no"}, format="json")
    assert response.status_code == 200 and response.json()["stage"] == "retired"
    assert owner.get("/api/mlops/models/999/").status_code == 404
    assert owner.get("/api/mlops/metrics/?since=yesterday").status_code == 400
