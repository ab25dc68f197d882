"""Drift statistics on known distributions (no drift on samples of one distribution, drift on
shifted ones, and the method each amount of data allows), data-quality rates, a full drift
check of saved links against the reference of a model trained on the shared dataset, and the
drift API."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from linkhub.links.models import Link
from linkhub.links.normalize import url_domain
from mlops.models import DriftResult, DriftRun, MetricPoint, ModelVersion
from mlops.services import drift as drift_service
from mlops.services.drift import drift_request, drift_run, drift_runs_sweep, quality_metrics_record
from mlops.tests.dataset import DATASET
from mlops.training import drift as D
from snapshots.models import FailureReason, Snapshot

SELFHOSTED = (
    "server database docker backup proxy wiki notes sync calendar photo gallery chat forum email "
    "monitoring analytics dashboard git deploy container media streaming files bookmarks"
).split()
COOKING = (
    "recipe flour butter oven bake simmer garlic onion pasta sauce chicken salad dessert sugar "
    "cream tomato soup bread cheese spice lemon thyme roast dough"
).split()


def texts(vocabulary: list[str], n: int, seed: int, words: int = 12) -> list[str]:
    rnd = random.Random(seed)
    return [" ".join(rnd.choice(vocabulary) for _ in range(words)) for _ in range(n)]


def counts(categories: list[str], shares: list[float], n: int, seed: int) -> dict[str, int]:
    drawn = np.random.default_rng(seed).choice(categories, size=n, p=shares)
    values, numbers = np.unique(drawn, return_counts=True)
    return {str(v): int(c) for v, c in zip(values, numbers, strict=True)}


# --- the statistics -----------------------------------------------------------------------------


def test_ks_finds_no_drift_between_samples_of_one_distribution():
    rng = np.random.default_rng(7)
    verdict = D.numeric_drift("word_count", rng.normal(100, 15, 800), rng.normal(100, 15, 400))
    assert verdict.method == "ks" and verdict.kind == "numeric"
    assert not verdict.drifted and verdict.p_value > D.P_VALUE_MAX
    assert (verdict.n_reference, verdict.n_current) == (800, 400)
    assert "Kolmogorov" in verdict.details["reason"]


def test_ks_finds_a_shifted_distribution():
    rng = np.random.default_rng(7)
    verdict = D.numeric_drift("word_count", rng.normal(100, 15, 800), rng.normal(110, 15, 400))
    assert verdict.method == "ks" and verdict.drifted and verdict.p_value < 1e-6
    assert verdict.details["current_mean"] > verdict.details["reference_mean"] + 5


def test_tiny_samples_get_insufficient_data_whatever_the_test():
    rng = np.random.default_rng(1)
    tiny = [
        D.numeric_drift("title_length", rng.normal(0, 1, 500), rng.normal(5, 1, 20)),
        D.categorical_drift("domain", {"a": 400, "b": 100}, {"b": 12}),
        D.psi_drift("predicted_tags", {"a": 400, "b": 100}, {"b": 29}, kind="prediction"),
        D.text_drift("text", texts(SELFHOSTED, 300, 1), texts(COOKING, 29, 2)),
    ]
    for verdict in tiny:
        assert verdict.method == "insufficient_data", verdict
        assert verdict.statistic is None and not verdict.drifted
        assert "30" in verdict.details["reason"]


def test_chi_square_on_categories_with_rare_ones_merged_into_other():
    categories = ["a", "b", "c", "d", "rare1", "rare2"]
    shares = [0.4, 0.3, 0.2, 0.097, 0.002, 0.001]
    reference = counts(categories, shares, 2000, seed=1)
    same = D.categorical_drift("domain", reference, counts(categories, shares, 500, seed=2))
    assert same.method == "chi2" and not same.drifted and same.p_value > D.P_VALUE_MAX
    assert {"rare1", "rare2"} <= set(same.details["merged"])
    assert "other" in same.details["reference_shares"]
    shifted = D.categorical_drift(
        "domain", reference, counts(categories, [0.25, 0.25, 0.25, 0.247, 0.002, 0.001], 500, seed=2)
    )
    assert shifted.method == "chi2" and shifted.drifted and shifted.p_value < 1e-6


def test_a_value_the_reference_did_not_keep_counts_as_its_other():
    reference = {"a": 600, "b": 300, "other": 100}
    verdict = D.categorical_drift("domain", reference, {"a": 60, "b": 30, "new.example": 10})
    assert verdict.method == "chi2" and not verdict.drifted
    assert verdict.details["current_shares"]["other"] == pytest.approx(0.1)


def test_psi_when_expected_counts_are_too_small_for_chi_square():
    categories = [f"site{i}.example" for i in range(40)]
    reference = dict.fromkeys(categories, 50)
    same = D.categorical_drift("domain", reference, counts(categories, [1 / 40] * 40, 60, seed=3))
    assert same.method == "psi" and not same.drifted and same.statistic < D.PSI_MIN
    assert "expected counts" in same.details["reason"]
    shifted = D.categorical_drift("domain", reference, {"site0.example": 30, "site1.example": 30})
    assert shifted.method == "psi" and shifted.drifted and shifted.statistic >= D.PSI_MIN


def test_psi_of_identical_and_shifted_distributions():
    assert D.psi({"a": 50, "b": 50}, {"a": 50, "b": 50}) == pytest.approx(0.0)
    assert D.psi({"a": 50, "b": 50}, {"a": 80, "b": 20}) > D.PSI_MIN
    tags = [f"tag{i}" for i in range(12)]
    shares = [0.3, 0.2, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.04, 0.03, 0.02, 0.01]
    reference = counts(tags, shares, 400, seed=4)
    same = D.psi_drift("predicted_tags", reference, counts(tags, shares, 300, seed=5), kind="prediction")
    assert same.method == "psi" and same.kind == "prediction" and not same.drifted
    moved = D.psi_drift(
        "predicted_tags", reference, counts(tags, shares[::-1], 300, seed=5), kind="prediction"
    )
    assert moved.drifted and moved.statistic >= D.PSI_MIN


def test_domain_classifier_tells_other_texts_apart_and_not_the_same_ones():
    reference = texts(SELFHOSTED, 400, seed=1)
    same = D.text_drift("text", reference, texts(SELFHOSTED, 200, seed=2))
    assert same.method == "domain_classifier" and not same.drifted
    assert 0.35 < same.statistic < D.AUC_MIN
    other = D.text_drift("text", reference, texts(SELFHOSTED[:8] + COOKING, 200, seed=2))
    assert other.drifted and other.statistic >= 0.9
    assert set(other.details["current_terms"]) <= set(COOKING)  # what tells the window apart
    assert len(other.details["fold_auc"]) == 5


def test_texts_without_words_are_no_drift():
    verdict = D.text_drift("text", [""] * 40, [" "] * 40)
    assert verdict.method == "domain_classifier" and verdict.statistic == 0.5 and not verdict.drifted


def test_profiles_are_compared_feature_by_feature():
    def rows(vocabulary: list[str], n: int, seed: int) -> list[dict]:
        rnd = random.Random(seed)
        return [
            {
                "url": f"https://a.example/x/{rnd.randint(100, 999)}",
                "title": " ".join(rnd.choice(vocabulary) for _ in range(3)),
                "description": " ".join(rnd.choice(vocabulary) for _ in range(rnd.randint(5, 15))),
                "text": "",
                "domain": rnd.choice(["a.example", "b.example", "c.example"]),
            }
            for i in range(n)
        ]

    predicted = [random.Random(1).choice(["x", "y", "z"]) for _ in range(300)]
    reference = D.profile_build(rows=rows(SELFHOSTED, 600, 1), predicted=predicted, seed=0)
    assert len(reference["texts"]) == 500 and len(reference["numeric"]["url_length"]) == 600
    assert "language" not in reference["categorical"]  # unknown: skipped, not guessed
    current = D.profile_build(rows=rows(SELFHOSTED, 200, 2), predicted=predicted[:200], seed=0)
    verdicts = {v.feature: v for v in D.profile_compare(reference, current)}
    assert set(verdicts) == {*D.NUMERIC_FEATURES, "domain", "has_text", "text", "predicted_tags"}
    assert {v.method for v in verdicts.values()} == {"ks", "chi2", "domain_classifier", "psi"}
    assert not [name for name, v in verdicts.items() if v.drifted]


# --- data quality -------------------------------------------------------------------------------


def _links(owner, n: int, *, created_at=None, text: str = "", prefix: str = "q") -> list[Link]:
    rows = [
        Link(
            owner=owner,
            url=f"https://{prefix}.example/{i}",
            domain=f"{prefix}.example",
            title=f"{prefix} {i}",
            content_text=text,
            created_at=created_at or timezone.now(),
        )
        for i in range(n)
    ]
    return Link.objects.bulk_create(rows)


def _snapshot(link: Link, status: str, *, version: int = 1, suspect: str = "", at=None) -> Snapshot:
    return Snapshot.objects.create(
        link=link,
        version=version,
        status=status,
        url=link.url,
        suspect_reason=suspect,
        failure_reason=FailureReason.SUSPECT if suspect else "",
        finished_at=at or timezone.now(),
    )


def test_data_quality_rates_against_their_thresholds(alice, settings):
    with_text = _links(alice, 8, text="Some readable text", prefix="good")
    empty = _links(alice, 4, prefix="empty")
    failed = _links(alice, 8, prefix="failed")
    for link in with_text + empty:
        _snapshot(link, Snapshot.Status.SUCCEEDED)
    for i, link in enumerate(failed):
        _snapshot(link, Snapshot.Status.FAILED, suspect="a blank page" if i < 2 else "")
    _snapshot(failed[0], Snapshot.Status.RUNNING, version=2)  # not finished: not counted
    run = drift_run(trigger=DriftRun.Trigger.MANUAL)
    assert run.status == DriftRun.Status.SKIPPED and "no production model" in run.message
    quality = {r.feature: r for r in run.results.filter(kind=DriftResult.Kind.QUALITY)}
    assert (
        quality["empty_text_rate"].statistic == pytest.approx(4 / 12) and quality["empty_text_rate"].drifted
    )
    assert quality["snapshot_failure_rate"].statistic == pytest.approx(8 / 20)
    assert quality["snapshot_failure_rate"].drifted and quality["snapshot_failure_rate"].method == "rate"
    assert quality["suspect_rate"].statistic == pytest.approx(0.1) and not quality["suspect_rate"].drifted
    assert quality["snapshot_failure_rate"].details["denominator"] == 20
    assert "snapshot_failure_rate 0.40 > 0.20" in run.message
    point = MetricPoint.objects.get(name="quality_snapshot_failure_rate")
    assert point.value == pytest.approx(0.4) and point.labels["run"] == run.pk and point.count == 20
    assert not run.drifted  # data quality is not drift
    settings.QUALITY_MAX_FAILURE_RATE = 0.5
    again = drift_run(trigger=DriftRun.Trigger.MANUAL)
    assert not again.results.get(feature="snapshot_failure_rate").drifted


def test_quality_needs_enough_snapshots_and_old_ones_do_not_count(alice):
    links = _links(alice, 12)
    for link in links[:5]:
        _snapshot(link, Snapshot.Status.FAILED)
    for link in links[5:]:
        _snapshot(link, Snapshot.Status.FAILED, at=timezone.now() - timedelta(days=30))
    run = drift_run(trigger=DriftRun.Trigger.MANUAL)
    result = run.results.get(feature="snapshot_failure_rate")
    assert result.method == "insufficient_data" and result.statistic is None and result.n_current == 5
    assert not MetricPoint.objects.filter(name="quality_snapshot_failure_rate").exists()


def test_recent_pipeline_health_is_recorded_every_few_minutes(alice):
    links = _links(alice, 12)
    for i, link in enumerate(links):
        _snapshot(link, Snapshot.Status.FAILED if i < 3 else Snapshot.Status.SUCCEEDED)
    _snapshot(links[0], Snapshot.Status.FAILED, version=2, at=timezone.now() - timedelta(hours=2))
    assert quality_metrics_record() == 2  # 9 links with a good snapshot: too few for empty_text_rate
    point = MetricPoint.objects.get(name="quality_snapshot_failure_rate")
    assert point.value == pytest.approx(3 / 12) and point.labels["window_minutes"] == 60
    assert point.count == 12 and point.model_version is None
    assert set(MetricPoint.objects.values_list("name", flat=True)) == {
        "quality_snapshot_failure_rate",
        "quality_suspect_rate",
    }


def test_a_run_whose_worker_died_is_failed_by_the_sweep(owner_of_models):
    run = drift_request(trigger=DriftRun.Trigger.MANUAL, actor=owner_of_models, queue=False)
    assert drift_request(trigger=DriftRun.Trigger.API, queue=False).pk == run.pk  # one at a time
    DriftRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(hours=3))
    assert drift_runs_sweep() == 1
    run.refresh_from_db()
    assert run.status == DriftRun.Status.FAILED and run.finished_at and "stopped" in run.message


def test_drift_checks_are_for_model_owners(alice):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        drift_request(trigger=DriftRun.Trigger.MANUAL, actor=alice, queue=False)


# --- a full check against a trained model's reference --------------------------------------------


def _dataset_sample(n: int, seed: int = 5) -> list[dict]:
    """A random sample: the file is sorted by name, and a slice of it is not like the rest."""
    with DATASET.open() as fh:
        return random.Random(seed).sample([json.loads(line) for line in fh], n)


def _cooking_links(owner, n: int) -> list[Link]:
    rnd = random.Random(11)
    sites = ["seriouseats.com", "bbcgoodfood.com", "allrecipes.com", "smittenkitchen.com", "food52.com"]
    dishes = [
        "chicken",
        "pasta",
        "tomato soup",
        "lemon tart",
        "garlic bread",
        "mushroom risotto",
        "apple pie",
    ]
    rows = []
    for i in range(n):
        dish = rnd.choice(dishes)
        site = rnd.choice(sites)
        url = f"https://www.{site}/recipes/{dish.replace(' ', '-')}-{i}"
        steps = " ".join(rnd.choice(COOKING) for _ in range(60))
        rows.append(
            Link(
                owner=owner,
                url=url,
                domain=url_domain(url),
                title=f"{rnd.choice(['Easy', 'Classic', 'Weeknight', 'Crispy'])} {dish} recipe",
                description=f"Bake the {dish} with {rnd.choice(COOKING)} and {rnd.choice(COOKING)}; "
                f"simmer the sauce and serve with {rnd.choice(COOKING)}.",
                content_text=f"Ingredients and method. {steps}",
            )
        )
    return Link.objects.bulk_create(rows)


def test_a_drift_check_against_a_trained_reference_finds_links_from_another_domain(alice, owner_of_models):
    out = StringIO()
    call_command("train_tag_model", "--dataset", str(DATASET), "--design", "knn", "--json", stdout=out)
    version = ModelVersion.objects.get(number=json.loads(out.getvalue())["version"])
    assert version.stage == "production"
    reference = version.reference
    assert reference["n"] == version.data_summary["train"] and len(reference["texts"]) == 500
    assert len(reference["numeric"]["description_length"]) == min(reference["n"], 2000)
    assert reference["predicted_tags"]["n"] == version.data_summary["holdout"]
    assert reference["categorical"]["has_text"] == {"no": reference["n"]}

    # Links like the training data: nothing drifts in what the model reads.
    same = [
        Link(
            owner=alice,
            url=row["url"],
            domain=url_domain(row["url"]),
            title=row["title"],
            description=row["description"],
        )
        for row in _dataset_sample(200)
    ]
    Link.objects.bulk_create(same)
    run = drift_run(trigger=DriftRun.Trigger.MANUAL, actor=owner_of_models)
    assert run.status == DriftRun.Status.DONE, run.message
    assert run.reference_version_id == version.pk and run.n_current == 200
    results = {r.feature: r for r in run.results.all()}
    assert results["text"].method == "domain_classifier" and not results["text"].drifted
    assert results["text"].statistic < 0.7
    assert results["predicted_tags"].method == "psi" and not results["predicted_tags"].drifted
    assert results["description_length"].method == "ks" and not results["description_length"].drifted
    assert not run.drifted and "No drift found" in run.message

    # A week later, links from another domain: recipes, with page text.
    Link.objects.update(created_at=timezone.now() - timedelta(days=30))
    _cooking_links(alice, 150)
    run = drift_run(trigger=DriftRun.Trigger.MANUAL, actor=owner_of_models)
    assert run.status == DriftRun.Status.DONE and run.drifted and run.n_current == 150
    results = {r.feature: r for r in run.results.all()}
    text = results["text"]
    assert text.drifted and text.statistic >= 0.9 and text.threshold == 0.7
    assert {"recipe", "simmer"} & set(text.details["current_terms"])
    assert results["has_text"].drifted and results["text_length"].drifted  # the dataset had no page text
    assert results["domain"].drifted
    assert "Drift in" in run.message and "text (AUC" in run.message
    point = MetricPoint.objects.filter(name="drift_text").latest("recorded_at")
    assert point.value == pytest.approx(text.statistic) and point.model_version_id == version.pk
    assert point.labels == {
        "method": "domain_classifier",
        "kind": "text",
        "threshold": 0.7,
        "drifted": True,
        "run": run.pk,
    }
    assert MetricPoint.objects.filter(name="drift_predicted_tags", labels__run=run.pk).exists()


def test_a_version_without_a_reference_is_skipped(make_version):
    make_version(reference={})
    run = drift_run(trigger=DriftRun.Trigger.MANUAL)
    assert run.status == DriftRun.Status.SKIPPED and "has no reference profile" in run.message
    assert set(run.results.values_list("kind", flat=True)) == {"quality"}


def test_a_model_that_cannot_be_loaded_fails_only_the_prediction_check(make_version, alice):
    rows = [
        {
            "url": f"https://x.example/{i}",
            "title": f"t {i}",
            "description": "d",
            "text": "",
            "domain": "x.example",
        }
        for i in range(60)
    ]
    version = make_version(reference=D.profile_build(rows=rows, predicted=["a"] * 60, seed=0))
    _links(alice, 40, prefix="x")
    run = drift_run(trigger=DriftRun.Trigger.MANUAL)
    assert run.status == DriftRun.Status.DONE
    prediction = run.results.get(feature="predicted_tags")
    assert (
        prediction.method == "insufficient_data"
        and f"v{version.number} could not be loaded" in (prediction.details["reason"])
    )
    assert run.results.get(feature="url_length").method == "ks"


def test_an_unexpected_error_fails_the_run_with_a_reason(db, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(drift_service, "quality_verdicts", broken)
    run = drift_run(trigger=DriftRun.Trigger.MANUAL)
    assert run.status == DriftRun.Status.FAILED and "disk on fire" in run.message and run.finished_at


# --- the API ------------------------------------------------------------------------------------


def test_drift_api_permissions(api_client_for, alice_api, reviewer, owner_of_models, make_user, monkeypatch):
    from mlops import tasks

    queued: list[int] = []
    monkeypatch.setattr(
        tasks.run_drift_check, "apply_async", lambda args, kwargs=None, **options: queued.append(args[0])
    )
    assert alice_api.get("/api/mlops/drift/").status_code == 403
    assert alice_api.post("/api/mlops/drift/run/").status_code == 403
    reviewer_api = api_client_for(reviewer)
    assert reviewer_api.get("/api/mlops/drift/").status_code == 200
    assert reviewer_api.post("/api/mlops/drift/run/").status_code == 403
    staff = make_user("sam")
    staff.is_staff = True
    staff.save()
    assert api_client_for(staff).get("/api/mlops/drift/").status_code == 200
    assert api_client_for(staff).post("/api/mlops/drift/run/").status_code == 403
    assert reviewer_api.get("/api/mlops/drift/999/").status_code == 404


def test_requesting_a_drift_check_queues_it_and_answers_202(
    api_client_for, owner_of_models, alice, django_capture_on_commit_callbacks
):
    _links(alice, 3)
    client = api_client_for(owner_of_models)
    with django_capture_on_commit_callbacks(execute=True):  # the task runs inline (eager Celery)
        response = client.post("/api/mlops/drift/run/")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "running" and body["trigger"] == "api" and body["requested_by"] == "mo"
    run = DriftRun.objects.get(pk=body["id"])
    assert run.status == DriftRun.Status.SKIPPED and run.started_at and run.finished_at
    listed = client.get("/api/mlops/drift/").json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == run.pk
    features = {r["feature"]: r for r in listed["results"][0]["results"]}
    assert features["snapshot_failure_rate"]["method"] == "insufficient_data"
    assert "reason" in features["snapshot_failure_rate"]["details"]
    assert client.get(f"/api/mlops/drift/{run.pk}/").json()["status"] == "skipped"


def _seed_runs(n: int, version) -> None:
    for i in range(n):
        run = DriftRun.objects.create(trigger="schedule", status="done", reference_version=version)
        DriftResult.objects.bulk_create(
            [
                DriftResult(
                    run=run, feature=f"f{j}", kind="numeric", method="ks", statistic=0.1, threshold=0.01
                )
                for j in range(5 + i)
            ]
        )


def test_the_drift_list_costs_the_same_queries_for_2_or_20_runs(api_client_for, reviewer, make_version):
    client = api_client_for(reviewer)
    version = make_version()
    client.get("/api/mlops/drift/")  # the token's first use is recorded once
    counts = []
    for n in (2, 18):
        _seed_runs(n, version)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/api/mlops/drift/")
        assert response.status_code == 200
        counts.append(len(ctx.captured_queries))
    assert (
        response.json()["count"] == 20
        and response.json()["results"][0]["reference_version"] == version.number
    )
    assert counts[0] == counts[1], counts


def test_a_drift_run_and_its_results_in_the_admin(client, make_user, make_version):
    from django.urls import reverse

    _seed_runs(1, make_version())
    run = DriftRun.objects.get()
    staff = make_user("sam")
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    page = client.get(reverse("admin:mlops_driftrun_change", args=[run.pk])).content.decode()
    assert "f0" in page and "Kolmogorov–Smirnov" in page  # the results, inline
    assert client.get(reverse("admin:mlops_driftrun_changelist")).status_code == 200
