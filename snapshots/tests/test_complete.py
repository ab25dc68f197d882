"""snapshot_complete: files are stored before the row is locked, rows are written under the lock."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from snapshots import services
from snapshots.capture import Capture, PageMetadata
from snapshots.models import Artifact, Snapshot
from snapshots.storage import artifact_read, artifact_store

TEXT = "Owls hunt at night."
HTML = f"<html><body><p>{TEXT}</p></body></html>"
SCREENSHOT = b"\x89PNG not really a screenshot"


def claimed(make_link, owner) -> Snapshot:
    link = make_link(owner, f"https://example.com/{uuid.uuid4().hex}")
    snapshot = services.snapshot_request(link=link, queue=False)
    running = services.snapshot_claim(snapshot_id=snapshot.pk, worker="test")
    assert running is not None
    return running


def capture() -> Capture:
    return Capture(
        final_url="https://example.com/owls",
        http_status=200,
        content_type="text/html",
        meta=PageMetadata(title="Owls", description="Night birds", language="en"),
        text=TEXT,
        html=HTML,
        screenshot=SCREENSHOT,
    )


@pytest.mark.django_db(transaction=True)
def test_files_are_stored_before_any_transaction_locks_the_row(alice, make_link, monkeypatch):
    """Slow storage (S3, a large archive) never holds the snapshot row's lock."""
    in_transaction: list[bool] = []

    def recording_store(data: bytes, content_type: str) -> Artifact:
        in_transaction.append(transaction.get_connection().in_atomic_block)
        return artifact_store(data, content_type)

    monkeypatch.setattr(services, "artifact_store", recording_store)
    snapshot = claimed(make_link, alice)
    outcome = services.snapshot_complete(snapshot_id=snapshot.pk, capture=capture(), provenance={})
    assert outcome.status == Snapshot.Status.SUCCEEDED
    assert in_transaction == [False, False, False]  # screenshot, page.html, text.txt
    snapshot.refresh_from_db()
    assert set(snapshot.snapshot_artifacts.values_list("name", flat=True)) == {
        "screenshot.png",
        "page.html",
        "text.txt",
    }
    assert (snapshot.title, snapshot.description, snapshot.language) == ("Owls", "Night birds", "en")
    assert snapshot.provenance["bytes"]["stored"] == len(SCREENSHOT) + len(HTML) + len(TEXT)


@pytest.mark.django_db
def test_an_artifact_collected_while_the_files_were_written_is_stored_again(alice, make_link, monkeypatch):
    """The text's bytes match an Artifact no snapshot used for days; the garbage collection takes
    it between the file writes and the row lock. The snapshot still gets its text."""
    old = artifact_store(TEXT.encode(), "text/plain; charset=utf-8")
    Artifact.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    store = services._artifacts_store

    def store_then_collect(capture: Capture) -> list:
        stored = store(capture)
        Artifact.objects.filter(pk=old.pk).delete()
        default_storage.delete(old.path)
        return stored

    monkeypatch.setattr(services, "_artifacts_store", store_then_collect)
    snapshot = claimed(make_link, alice)
    outcome = services.snapshot_complete(snapshot_id=snapshot.pk, capture=capture(), provenance={})
    assert outcome.status == Snapshot.Status.SUCCEEDED
    text = snapshot.snapshot_artifacts.get(name="text.txt").artifact
    assert text.pk != old.pk
    assert artifact_read(text) == TEXT.encode()


@pytest.mark.django_db
def test_a_finished_row_is_left_as_it_was(alice, make_link):
    """A second completion (a worker that lost its lease, say) changes no row; its files are
    left to the garbage collection."""
    snapshot = claimed(make_link, alice)
    services.snapshot_fail(snapshot_id=snapshot.pk, reason="http_4xx", detail="404")
    outcome = services.snapshot_complete(snapshot_id=snapshot.pk, capture=capture(), provenance={})
    assert outcome.status == Snapshot.Status.FAILED
    snapshot.refresh_from_db()
    assert snapshot.title == ""
    assert not snapshot.snapshot_artifacts.exists()
    assert Artifact.objects.filter(uses__isnull=True).count() == 3
