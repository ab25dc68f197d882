"""The apps below announce; this app listens: a new link is scored once, when its first snapshot
has ended (or the wait for it is over), and people's tag edits answer open suggestions."""

from __future__ import annotations

import pytest

from linkhub.links import services as link_services
from linkhub.links.models import TagDecision
from linkhub.links.signals import links_created, tags_changed
from mlops.models import Stage, Suggestion
from mlops.services import suggest
from snapshots import services as snapshot_services
from snapshots.capture import Capture, PageMetadata
from snapshots.models import FailureReason, Snapshot
from snapshots.signals import snapshot_finished

pytestmark = pytest.mark.django_db
BLOCKED = FailureReason.BLOCKED_ADDRESS


@pytest.fixture
def scored(monkeypatch):
    """The links the serving model scored, in order (the scoring itself is tested elsewhere)."""
    calls: list[int] = []
    monkeypatch.setattr(suggest, "suggest_for_link", lambda *, link_id: calls.append(link_id) or [])
    return calls


@pytest.fixture
def no_renders(monkeypatch):
    """Snapshot rows are written, their renders not queued (tests finish them by hand)."""
    monkeypatch.setattr(snapshot_services, "_queue", lambda snapshot_id, countdown=None: True)


def _finish(snapshot: Snapshot, *, text: str = "Owls hunt at night.") -> None:
    snapshot_services.snapshot_claim(snapshot_id=snapshot.pk, worker="test")
    snapshot_services.snapshot_complete(
        snapshot_id=snapshot.pk,
        capture=Capture(
            html="<p>owls</p>", text=text, meta=PageMetadata(title="Owls"), final_url=snapshot.url
        ),
        provenance={"timings": {}},
    )


def test_every_receiver_is_connected_by_the_listening_apps():
    """links knows nothing of snapshots or mlops: they connect themselves when Django starts."""
    assert {r[0][0] for r in links_created.receivers} >= {
        "snapshots.first_snapshots",
        "mlops.suggest_new_links",
    }
    assert {r[0][0] for r in tags_changed.receivers} == {"mlops.answer_suggestions", "mlops.personal_update"}
    assert {r[0][0] for r in snapshot_finished.receivers} == {"mlops.suggest_after_snapshot"}


def test_a_saved_link_gets_its_pending_snapshot_in_the_same_transaction(alice, settings, no_renders):
    settings.SNAPSHOT_ON_SAVE = True
    link, created = link_services.link_create(owner=alice, url="https://example.com/owls")
    assert created
    assert list(Snapshot.objects.filter(link=link).values_list("version", "status")) == [(1, "pending")]
    # capture=False: the caller (``manage.py snapshot``) takes the first snapshot itself.
    other, _ = link_services.link_create(owner=alice, url="https://example.com/bees", capture=False)
    assert not Snapshot.objects.filter(link=other).exists()


def test_a_new_link_is_scored_once_when_its_snapshot_brings_the_text(
    alice, settings, make_version, scored, no_renders, django_capture_on_commit_callbacks
):
    settings.SNAPSHOT_ON_SAVE = True
    make_version(stage=Stage.PRODUCTION)
    with django_capture_on_commit_callbacks() as callbacks:
        link, _ = link_services.link_create(owner=alice, url="https://example.com/owls")
    assert scored == []  # nothing is scored before the page's text is there
    assert len(callbacks) == 2  # the render, and the fallback scoring after the wait
    snapshot = Snapshot.objects.get(link=link)
    with django_capture_on_commit_callbacks(execute=True):
        _finish(snapshot)
    assert scored == [link.pk]
    link.refresh_from_db()
    assert "Owls hunt" in link.content_text
    # The fallback, once the wait is over, finds the first snapshot ended: no second scoring.
    assert suggest.suggest_new_links(link_ids=[link.pk]) == 0
    assert scored == [link.pk]


def test_a_new_link_whose_snapshot_takes_too_long_is_scored_after_the_wait(
    alice, settings, make_version, scored, no_renders
):
    settings.SNAPSHOT_ON_SAVE = True
    make_version(stage=Stage.PRODUCTION)
    link, _ = link_services.link_create(owner=alice, url="https://example.com/slow")
    assert suggest.suggest_new_links(link_ids=[link.pk]) == 1  # still pending: the wait is over
    assert scored == [link.pk]


def test_a_first_snapshot_that_fails_for_good_still_gets_the_link_scored(
    alice, settings, make_version, scored, no_renders
):
    settings.SNAPSHOT_ON_SAVE = True
    make_version(stage=Stage.PRODUCTION)
    link, _ = link_services.link_create(owner=alice, url="https://example.com/gone")
    first = Snapshot.objects.get(link=link)
    snapshot_services.snapshot_claim(snapshot_id=first.pk, worker="test")
    snapshot_services.snapshot_fail(
        snapshot_id=first.pk, reason=FailureReason.BLOCKED_ADDRESS, detail="10.0.0.1 is private"
    )
    assert suggest.suggest_after_snapshot(snapshot_id=first.pk) is True
    # A later version that fails changes nothing the model reads: no new scoring.
    second = snapshot_services.snapshot_request(link=link, queue=False)
    snapshot_services.snapshot_claim(snapshot_id=second.pk, worker="test")
    snapshot_services.snapshot_fail(
        snapshot_id=second.pk, reason=FailureReason.BLOCKED_ADDRESS, detail="10.0.0.1 is private"
    )
    assert suggest.suggest_after_snapshot(snapshot_id=second.pk) is False
    assert scored == [link.pk]


def test_without_a_shared_model_a_new_link_is_still_scored(alice, scored):
    """Personal and zero-shot suggestions need no shared model: every new link is scored."""
    link, _ = link_services.link_create(owner=alice, url="https://example.com/owls")
    assert suggest.suggest_new_links(link_ids=[link.pk]) == 1
    assert scored == [link.pk]


def test_a_tag_typed_in_an_edit_answers_the_open_suggestion(
    alice, make_link, make_version, suggest, django_capture_on_commit_callbacks
):
    version = make_version()
    link = make_link(alice, "https://example.com/owls", tags=["birds"])
    owls = suggest(link, "Owls", 0.7, version)
    night = suggest(link, "night", 0.6, version)
    with django_capture_on_commit_callbacks(execute=True):
        link_services.link_update(link=link, tags=["birds", "owls"])
    owls.refresh_from_db()
    night.refresh_from_db()
    added = TagDecision.objects.get(link_id=link.pk, tag_key="owls", action="add")
    assert (owls.status, owls.decision_id, owls.decided_at) == ("accepted", added.pk, added.at)
    assert night.status == "proposed"
    # The audit row itself names no suggestion: the person did not answer one, they typed a tag.
    assert added.suggestion_id is None


def test_taking_off_a_tag_the_model_applied_reverts_its_suggestion(
    alice, make_link, make_version, suggest, django_capture_on_commit_callbacks
):
    version = make_version()
    link = make_link(alice, "https://example.com/owls")
    applied = suggest(link, "owls", 0.95, version, status=Suggestion.Status.AUTO_APPLIED)
    link_services.link_tag_decide(link=link, name="owls", action="auto_apply", actor=None)
    with django_capture_on_commit_callbacks(execute=True):
        link_services.links_bulk_update(owner=alice, link_ids=[link.pk], action="remove_tags", tags=["owls"])
    applied.refresh_from_db()
    assert applied.status == "reverted"
    removal = TagDecision.objects.get(link_id=link.pk, action="remove")
    assert applied.decision_id == removal.pk


def test_a_rolled_back_decision_is_neither_stored_nor_counted(alice, make_link):
    from django.db import transaction

    from linkhub.metrics import TAG_DECISIONS

    link = make_link(alice, "https://example.com/owls")
    before = TAG_DECISIONS.labels(action="add", source="cli")._value.get()

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        link_services.link_tags_set(link=link, names=["owls"])
        raise Boom
    assert not TagDecision.objects.filter(link_id=link.pk).exists()
    assert TAG_DECISIONS.labels(action="add", source="cli")._value.get() == before


def test_until_the_answer_task_runs_no_chip_offers_a_tag_already_decided(
    alice, make_link, make_version, suggest
):
    from mlops import selectors

    version = make_version()
    link = make_link(alice, "https://example.com/owls")
    suggest(link, "owls", 0.7, version)
    suggest(link, "night", 0.95, version, status=Suggestion.Status.AUTO_APPLIED)
    link_services.link_tag_decide(link=link, name="night", action="auto_apply", actor=None)
    suggest(link, "dusk", 0.6, version)
    assert [s.tag_name for s in selectors.suggestions_open(link_ids=[link.pk])[link.pk]] == [
        "night",
        "owls",
        "dusk",
    ]
    # Typed by hand, taken off by hand: the task that answers them has not run yet (no commit here).
    link_services.link_tags_set(link=link, names=["owls"])
    assert [s.tag_name for s in selectors.suggestions_open(link_ids=[link.pk])[link.pk]] == ["dusk"]
