"""Tag suggestions for a new user, over the API only: zero-shot ones from the first link, a
personal model once enough links are tagged (no command run), incremental updates on each
decision, consent ``none`` stopping it all, and new tags from a shared model with an empty
vocabulary. The real sentence encoder embeds the links (loaded once per process, ~7 s)."""

from __future__ import annotations

import pytest

from linkhub.accounts.models import ConsentChange
from linkhub.links.models import TagDecision, TaggedLink
from mlops.models import (
    Kind,
    ModelVersion,
    PersonalModelState,
    Stage,
    StageEvent,
    Suggestion,
    TrainingRun,
)
from mlops.services import personal, registry

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

# Three clear topics. The encoder reads a link's description (a link saved through the API has no
# snapshot text here), so each one says what the page is about.
PAGES = {
    "python": [
        ("Python decorators", "Learn Python programming: a Python tutorial on decorators."),
        ("Python type hints", "Python programming: type hints and mypy for Python code."),
        ("Python asyncio", "Python programming: asyncio, coroutines and the event loop in Python."),
        ("Python for beginners", "Learn Python programming: a Python tutorial for beginners."),
    ],
    "cooking": [
        ("Risotto", "Cooking recipes: how to cook a creamy risotto with rice and stock."),
        ("Sourdough bread", "Cooking recipes: baking sourdough bread at home with flour and water."),
        ("Tomato soup", "Cooking recipes: a simple tomato soup to cook in the kitchen."),
        ("Pasta sauce", "Cooking recipes: cook a pasta sauce with garlic, tomatoes and basil."),
    ],
    "astronomy": [
        ("Jupiter's moons", "Astronomy: observing the moons of Jupiter, planets in the night sky."),
        ("Life of stars", "Astronomy: how stars are born, shine and die, for beginners."),
        ("Solar eclipses", "Astronomy: solar eclipses, the Sun, the Moon and the planets."),
        ("The Milky Way", "Astronomy for beginners: stars, planets and galaxies in the night sky."),
        ("Comets", "Astronomy: comets, planets and stars crossing the night sky."),
        ("Star clusters", "Astronomy: star clusters and planets to observe in the night sky."),
    ],
}


def page(topic: str, n: int) -> dict:
    title, description = PAGES[topic][n]
    slug = title.lower().replace(" ", "-").replace("'", "")
    return {"url": f"https://{topic}.example.com/{slug}", "title": title, "description": description}


@pytest.fixture
def carol(make_user):
    """A new user who chose ``own`` at sign-up: her data trains her personal model only."""
    return make_user("carol", training_consent="own")


@pytest.fixture
def carol_api(carol, api_client_for):
    return api_client_for(carol)


@pytest.fixture
def save(carol_api, django_capture_on_commit_callbacks):
    """POST a link through the API; what its save sets off (scoring, personal updates) runs
    before this returns, as a worker would run it right after the commit."""

    def save(data: dict, tags: list[str] | None = None) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            r = carol_api.post("/api/links/", {**data, "tags": tags or []}, format="json")
        assert r.status_code == 201, r.content
        return r.json()["id"]

    return save


@pytest.fixture
def suggestions(carol_api):
    def get(link_id: int) -> list[dict]:
        r = carol_api.get(f"/api/links/{link_id}/suggestions/")
        assert r.status_code == 200, r.content
        return r.json()

    return get


@pytest.fixture
def decide(carol_api, django_capture_on_commit_callbacks):
    def decide(link_id: int, tag: str, action: str) -> dict:
        with django_capture_on_commit_callbacks(execute=True):
            r = carol_api.post(
                f"/api/links/{link_id}/decisions/", {"tag": tag, "action": action}, format="json"
            )
        assert r.status_code == 201, r.content
        return r.json()

    return decide


@pytest.fixture
def consent_set(carol_api, django_capture_on_commit_callbacks):
    """PATCH her consent; what the change sets off once it commits (retiring her personal
    model) runs before this returns."""

    def patch(value: str) -> dict:
        with django_capture_on_commit_callbacks(execute=True):
            r = carol_api.patch("/api/account/consent/", {"training_consent": value}, format="json")
        assert r.status_code == 200, r.content
        return r.json()

    return patch


def test_consent_round_trips_through_the_api_and_every_change_is_recorded(carol, carol_api, consent_set):
    assert carol_api.get("/api/account/consent/").json() == {"training_consent": "own"}
    for value in ("none", "shared", "own"):
        assert consent_set(value) == {"training_consent": value}
        assert carol_api.get("/api/account/consent/").json() == {"training_consent": value}

    r = carol_api.patch("/api/account/consent/", {"training_consent": "everyone"}, format="json")
    assert r.status_code == 400
    assert r.json() == {"training_consent": ['"everyone" is not a valid choice.']}
    assert carol_api.get("/api/account/consent/").json() == {"training_consent": "own"}
    # The same value again is no change, so no row.
    consent_set("own")

    assert list(
        ConsentChange.objects.filter(user=carol)
        .order_by("pk")
        .values_list("from_consent", "to_consent", "source")
    ) == [("", "own", "signup"), ("own", "none", "api"), ("none", "shared", "api"), ("shared", "own", "api")]


def test_a_new_user_gets_zero_shot_then_personal_suggestions_and_consent_none_ends_them(
    carol, bob_api, save, suggestions, decide, consent_set, monkeypatch
):
    assert not ModelVersion.objects.shared().exists()  # no shared model on this LinkHub

    # One link per topic, tagged when saved: a vocabulary, but far from a personal model.
    save(page("python", 0), ["python"])
    save(page("cooking", 0), ["cooking"])
    save(page("astronomy", 0), ["astronomy"])

    # A new link about one of the topics: the tag's name matches it (zero-shot).
    milky_way = save(page("astronomy", 3))
    rows = suggestions(milky_way)
    assert [(s["tag"], s["source"], s["model"], s["new_tag"], s["status"]) for s in rows] == [
        ("astronomy", "zero-shot", "zero-shot v1", False, "proposed")
    ]
    assert rows[0]["model_version"] == 1
    assert 0.5 <= rows[0]["score"] < 1
    assert rows[0]["explanation"][0][0] == "the tag name “astronomy” matches the page"
    assert not PersonalModelState.objects.filter(user=carol).exists()
    assert not TrainingRun.objects.filter(owner=carol).exists()

    # Accepting it is a tagged link too (4); six more tagged links reach the policy's 10.
    assert decide(milky_way, "astronomy", "accept")["action"] == "accept"
    for topic, n in (("python", 1), ("cooking", 1), ("astronomy", 1), ("python", 2), ("cooking", 2)):
        save(page(topic, n), [topic])
        assert not PersonalModelState.objects.filter(user=carol).exists()
    save(page("astronomy", 2), ["astronomy"])

    # The tenth tagged link trained the first personal version; no command was run.
    state = PersonalModelState.objects.select_related("version").get(user=carol)
    assert (state.version.kind, state.version.owner_id, state.version.stage) == (
        Kind.PERSONAL,
        carol.pk,
        Stage.PRODUCTION,
    )
    run = TrainingRun.objects.get(owner=carol, kind=TrainingRun.Kind.FULL)
    assert (run.trigger, run.status, run.version_id) == ("threshold", "succeeded", state.version.pk)
    assert run.reason == "10 tagged links reached the policy's 10"

    # A new astronomy link: the personal model suggests "astronomy", and nothing is zero-shot now.
    comets = save(page("astronomy", 4))
    rows = suggestions(comets)
    assert rows, "the personal model suggested nothing"
    assert {(s["source"], s["model"], s["new_tag"]) for s in rows} == {
        ("personal", f"personal v{state.version.number}", False)
    }
    assert rows[0]["tag"] == "astronomy"
    assert rows[0]["model_version"] == state.version.number
    assert "like your 4 links tagged “astronomy”" in [term for term, _ in rows[0]["explanation"]]
    assert bob_api.get(f"/api/links/{comets}/suggestions/").status_code == 404

    # Accepting it updates the live model at once (an incremental update, not a retrain).
    before = (state.updates, state.revision)
    decided = decide(comets, "astronomy", "accept")
    assert (decided["suggestion"], decided["model_version"]) == (rows[0]["id"], state.version.number)
    state.refresh_from_db()
    assert (state.updates, state.revision) == (before[0] + 1, before[1] + 1)
    update = TrainingRun.objects.filter(owner=carol, kind=TrainingRun.Kind.INCREMENTAL).latest("pk")
    assert (update.trigger, update.status, update.version_id) == ("decision", "succeeded", state.version.pk)
    assert update.reason == f"accept 'astronomy' on link {comets}"

    # The next similar link is scored by the updated model: one more link behind "astronomy".
    clusters = save(page("astronomy", 5))
    rows = suggestions(clusters)
    assert (rows[0]["tag"], rows[0]["source"]) == ("astronomy", "personal")
    assert "like your 5 links tagged “astronomy”" in [term for term, _ in rows[0]["explanation"]]

    # A rejection is learnt too.
    decide(clusters, "astronomy", "reject")
    state.refresh_from_db()
    assert state.updates == before[0] + 2
    update = TrainingRun.objects.filter(owner=carol, kind=TrainingRun.Kind.INCREMENTAL).latest("pk")
    assert update.reason == f"reject 'astronomy' on link {clusters}"
    # Rejected, or reverted when the model had applied it (a score at the auto-apply threshold).
    assert Suggestion.objects.get(pk=rows[0]["id"]).status in (
        Suggestion.Status.REJECTED,
        Suggestion.Status.REVERTED,
    )

    # Down to consent none: the personal model stops serving at once.
    cached = personal._cache[carol.pk]  # what a worker that scored her links holds in memory
    assert consent_set("none") == {"training_consent": "none"}
    assert not PersonalModelState.objects.filter(user=carol).exists()
    versions = ModelVersion.objects.personal(carol.pk)
    assert versions.exists()
    assert set(versions.values_list("stage", flat=True)) == {Stage.RETIRED}
    assert (
        StageEvent.objects.filter(
            version__in=versions, to_stage=Stage.RETIRED, reason="consent changed from own to none"
        ).count()
        == versions.count()
    )

    # Her next links get zero-shot suggestions only, and her decisions train nothing.
    runs = TrainingRun.objects.filter(owner=carol).count()
    python_link = save(page("python", 3))
    rows = suggestions(python_link)
    assert [(s["tag"], s["source"]) for s in rows] == [("python", "zero-shot")]
    decide(python_link, "python", "accept")
    save(page("cooking", 3), ["cooking"])
    assert not Suggestion.objects.filter(link__owner=carol, source="personal", status="proposed").exists()
    assert TrainingRun.objects.filter(owner=carol).count() == runs
    assert not PersonalModelState.objects.filter(user=carol).exists()

    # Back to own: her next decision trains a new first version, which serves from then on, also
    # in another worker that still holds the retired one in memory from before (it ran none of
    # what followed), when the new state's revision is the same as that of its copy.
    consent_set("own")
    save({**page("python", 2), "url": "https://python.example.com/again"}, ["python"])
    state = PersonalModelState.objects.select_related("version").get(user=carol)
    assert (state.version.number, state.version.stage, state.revision) == (2, Stage.PRODUCTION, 1)
    save({**page("cooking", 2), "url": "https://cooking.example.com/again"}, ["cooking"])
    assert PersonalModelState.objects.get(user=carol).revision == cached[0]
    monkeypatch.setitem(personal._cache, carol.pk, cached)
    rows = suggestions(save({**page("astronomy", 4), "url": "https://astronomy.example.com/again"}))
    assert rows and {s["model"] for s in rows} == {"personal v2"}


class FakeModel:
    """A shared model with fixed scores: registry.model_load (our wrapper) hands it out instead
    of a trained artifact."""

    def __init__(self, scores: dict[str, float]):
        self.scores = scores

    def predict_scores(self, examples):
        return [dict(self.scores) for _ in examples]

    def explain(self, example, name, k):
        return [("media", 0.4)]


def test_new_tags_from_the_shared_model_are_flagged_and_never_applied(
    carol, save, suggestions, make_version, monkeypatch
):
    """A user with no tags yet is offered at most two of the shared model's tags, marked new, and
    never applied even above the auto-apply threshold."""
    policy = registry.policy_get()
    assert (policy.new_tags_max, policy.auto_apply_threshold) == (2, 0.9)
    make_version(Stage.PRODUCTION, labels=["media", "backup", "wiki", "chat"])
    scores = {"media": 0.97, "backup": 0.95, "wiki": 0.93, "chat": 0.2}
    monkeypatch.setattr(registry, "model_load", lambda version: FakeModel(scores))

    link = save({"url": "https://jellyfin.example.com/", "title": "Jellyfin", "description": "Media server."})
    rows = suggestions(link)
    assert [(s["tag"], s["new_tag"], s["source"], s["model"], s["status"]) for s in rows] == [
        ("media", True, "shared", "shared v1", "proposed"),
        ("backup", True, "shared", "shared v1", "proposed"),
    ]
    assert not TaggedLink.objects.filter(content_object_id=link).exists()
    assert not TagDecision.objects.filter(link_id=link).exists()

    # Once "media" is her tag, the shared model's 0.97 applies it; the rest stay new and proposed.
    save({"url": "https://kodi.example.com/", "title": "Kodi", "description": "Media center."}, ["media"])
    link2 = save({"url": "https://plex.example.com/", "title": "Plex", "description": "Media server."})
    rows = {s["tag"]: s for s in suggestions(link2)}
    assert (rows["media"]["status"], rows["media"]["new_tag"]) == ("auto_applied", False)
    assert [(t, s["new_tag"], s["status"]) for t, s in rows.items() if t != "media"] == [
        ("backup", True, "proposed"),
        ("wiki", True, "proposed"),
    ]
    assert list(TaggedLink.objects.filter(content_object_id=link2).values_list("tag__name", "origin")) == [
        ("media", "model")
    ]
