"""Training from decisions and from a dataset, the gate on real models, suggestions from a real
model, consent, skipping unchanged data, and refusing a tampered artifact."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from linkhub.accounts.models import Profile
from linkhub.links.models import TagDecision, TaggedLink
from mlops.models import ModelVersion, Policy, Suggestion, TrainingRun
from mlops.services import decisions, registry
from mlops.services.suggest import suggest_for_link
from mlops.services.training import collect_examples, training_request, training_run
from mlops.tests.dataset import DATASET

pytestmark = pytest.mark.django_db


def rows(n: int, start: int = 0) -> list[dict]:
    with DATASET.open() as fh:
        return [json.loads(line) for line in fh][start : start + n]


def consent(user) -> None:
    Profile.objects.update_or_create(user=user, defaults={"training_consent": "shared"})


def save_links(user, items) -> list:
    from linkhub.links.services import link_create

    return [
        link_create(owner=user, url=r["url"], title=r["title"], description=r["description"], tags=r["tags"])[
            0
        ]
        for r in items
    ]


def train(*args: str) -> dict:
    out = StringIO()
    call_command("train_tag_model", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_only_consenting_users_labels_are_used_and_unchanged_data_is_skipped(alice, bob):
    Policy.objects.update_or_create(pk=1, defaults={"min_examples": 2})
    consent(alice)
    save_links(alice, rows(120))
    save_links(bob, rows(40, start=500))  # bob did not consent
    data = collect_examples()
    assert data.summary["examples"] == 120 and data.summary["users"] == 1
    urls = {e.url for e in data.examples}
    assert not urls & {r["url"] for r in rows(40, start=500)}
    first = train("--design", "knn")
    assert first["status"] == "succeeded" and first["version"] == 1
    assert first["stage"] == "production"  # the first model: nothing to compare with
    again = train("--design", "knn")
    assert again["status"] == "skipped" and "has not changed since v1" in again["message"]
    # Bob consents: new data, a new candidate.
    consent(bob)
    third = train("--design", "knn")
    assert third["status"] == "succeeded" and third["version"] == 2


def test_dataset_training_gate_and_lineage(owner_of_models):
    first = train("--dataset", str(DATASET), "--design", "knn")
    assert first["version"] == 1 and first["stage"] == "production"
    assert first["recall_at_3"] > 0.4 and first["n"] > 250
    version = ModelVersion.objects.get(number=1)
    assert version.data_summary["source"] == "dataset awesome-selfhosted.jsonl"
    assert len(version.artifact_sha256) == 64 and version.sklearn_version and version.labels
    assert version.per_tag and version.holdout_fingerprint
    # A worse candidate (the most-frequent-tags baseline) is refused by the gate, with the reason.
    worse = train("--dataset", str(DATASET), "--design", "most_frequent")
    assert worse["stage"] == "candidate" and not worse["gate"]["passed"]
    assert "recall_at_3" in worse["gate"]["reason"] and worse["gate"]["production_version"] == 1
    assert ModelVersion.objects.get(number=worse["version"]).parent_id == version.pk
    out = StringIO()
    call_command("evaluate_tag_model", "--dataset", str(DATASET), "--json", stdout=out)
    evaluated = json.loads(out.getvalue())
    assert evaluated["version"] == 1 and evaluated["recall_at_3"] == pytest.approx(first["recall_at_3"])
    for key in (
        "precision_at_1",
        "precision_at_3",
        "recall_at_3",
        "recall_at_5",
        "micro_f1",
        "macro_f1",
        "n",
    ):
        assert key in evaluated


def test_a_tampered_artifact_is_refused(alice):
    train("--dataset", str(DATASET), "--design", "knn")
    version = ModelVersion.objects.get(number=1)
    registry._cache.clear()
    with default_storage.open(version.artifact_path, "rb") as fh:
        data = bytearray(fh.read())
    data[len(data) // 2] ^= 0xFF
    default_storage.delete(version.artifact_path)
    default_storage.save(version.artifact_path, ContentFile(bytes(data)))
    from mlops.training.artifact import ArtifactIntegrityError

    with pytest.raises(ArtifactIntegrityError):
        registry.model_load(version)
    # The web of suggestions does not fall over: scoring a link fails loudly in the worker only.
    link = save_links(alice, rows(1))[0]
    with pytest.raises(ArtifactIntegrityError):
        suggest_for_link(link_id=link.pk)


def test_suggestions_from_a_real_model_respect_vocabulary_rejections_and_human_tags(alice):
    train("--dataset", str(DATASET), "--design", "knn")
    registry._cache.clear()
    Policy.objects.update_or_create(pk=1, defaults={"suggest_threshold": 0.05, "auto_apply_threshold": 0.999})
    # Alice's vocabulary: the tags of the dataset's first 300 links, which she saved with their tags.
    save_links(alice, rows(300))
    vocabulary = set(TaggedLink.objects.filter(tag__owner=alice).values_list("tag__key", flat=True))
    item = rows(1, start=700)[0]  # MindsDB, tagged "database management" in the dataset
    link = save_links(alice, [{**item, "tags": ["my own tag"]}])[0]
    human = {"my own tag"}
    made = suggest_for_link(link_id=link.pk)
    assert made, "the model suggested nothing for a dataset link"
    assert made[0].tag_key in set(item["tags"])  # the best suggestion is the dataset's own tag
    assert {s.tag_key for s in made} <= vocabulary  # only her own tags
    assert not {s.tag_key for s in made} & human  # nothing already on the link
    assert all(s.explanation for s in made) and all(s.model_version.number == 1 for s in made)
    rejected = made[0]
    decisions.decide(link=link, tag=rejected.tag_name, action="reject", actor=alice)
    Suggestion.objects.filter(link=link).exclude(pk=rejected.pk).delete()
    again = suggest_for_link(link_id=link.pk)
    assert rejected.tag_key not in {s.tag_key for s in again}  # never suggested again
    # Auto-apply at a low threshold: the model adds tags as its own, and never removes hers.
    Policy.objects.filter(pk=1).update(auto_apply_threshold=0.05)
    Suggestion.objects.filter(link=link).delete()
    suggest_for_link(link_id=link.pk)
    tags = dict(TaggedLink.objects.filter(content_object=link).values_list("tag__key", "origin"))
    assert human <= set(tags) and all(tags[k] == "user" for k in human)
    assert any(origin == "model" for origin in tags.values())
    assert TagDecision.objects.filter(link_id=link.pk, action="auto_apply", actor_name="model").exists()


def test_training_request_is_for_model_owners_and_runs_once(alice, owner_of_models, monkeypatch):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        training_request(trigger="api", actor=alice, queue=False)
    run = training_request(trigger="api", actor=owner_of_models, queue=False)
    assert training_request(trigger="schedule", queue=False).pk == run.pk  # one at a time
    finished = training_run(run_id=run.pk)
    assert finished.status == TrainingRun.Status.FAILED and "Not enough labelled links" in finished.message


def test_train_api(
    api_client_for, owner_of_models, alice_api, monkeypatch, django_capture_on_commit_callbacks
):
    from mlops import tasks

    queued = []
    monkeypatch.setattr(
        tasks.train_tag_model, "apply_async", lambda args, kwargs=None, **options: queued.append(args[0])
    )
    assert alice_api.post("/api/mlops/models/train/").status_code == 403
    client = api_client_for(owner_of_models)
    response = client.post("/api/mlops/models/train/", {"design": "nonsense"}, format="json")
    assert response.status_code == 400 and "design" in response.json()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/mlops/models/train/", {}, format="json")
    assert response.status_code == 202 and response.json()["status"] == "pending"
    run_id = response.json()["id"]
    assert client.get(f"/api/mlops/training/{run_id}/").json()["trigger"] == "api"
    assert queued == [run_id]
    assert not ModelVersion.objects.exists()  # nothing is registered until the run is carried out


def test_a_run_where_no_tag_has_enough_examples_fails_saying_what_to_do(owner_of_models):
    Policy.objects.update_or_create(pk=1, defaults={"min_examples": 5000})
    run = training_request(trigger="dataset", dataset=str(DATASET), design="knn", queue=False)
    finished = training_run(run_id=run.pk)
    assert finished.status == TrainingRun.Status.FAILED
    assert finished.message.startswith("No tag has 5000 or more examples yet; lower the minimum")
    assert not ModelVersion.objects.exists()


def test_going_down_from_shared_to_none_leaves_the_next_shared_version_and_data_usage_says_so(alice, bob):
    """Lineage names whose data a version holds; data_usage answers for one user."""
    from linkhub.accounts.services import training_consent_set

    Policy.objects.update_or_create(pk=1, defaults={"min_examples": 2})
    consent(alice)
    consent(bob)
    save_links(alice, rows(80))
    save_links(bob, rows(60, start=500))
    first = train("--design", "knn")
    assert first["status"] == "succeeded"
    v1 = ModelVersion.objects.get(number=first["version"])
    assert v1.data_summary["user_ids"] == sorted([alice.pk, bob.pk])
    assert v1.data_summary["consent"] == {"shared": 2} and len(v1.data_summary["users_fingerprint"]) == 64

    training_consent_set(user=bob, actor=bob, consent="none", source="api")
    assert collect_examples().summary["user_ids"] == [alice.pk]
    second = train("--design", "knn")
    assert second["status"] == "succeeded"
    v2 = ModelVersion.objects.get(number=second["version"])
    assert v2.data_summary["user_ids"] == [alice.pk] and v2.data_summary["consent"] == {"shared": 1}

    out = StringIO()
    call_command("data_usage", "--user", "bob", "--json", stdout=out)
    usage = json.loads(out.getvalue())
    assert usage["training_consent"] == "none"
    assert usage["versions_with_data"] == [v1.number]
    assert usage["first_version_without"] == v2.number
    assert [(h["from"], h["to"]) for h in usage["history"]][-1] == ("shared", "none")
    out = StringIO()
    call_command("data_usage", "--user", "alice", stdout=out)
    assert f"Trained with their data: v{v1.number}, v{v2.number}" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("data_usage", "--user", "nobody", stdout=StringIO())
