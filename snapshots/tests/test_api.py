"""Snapshot API and pages: requests, versions, uploads, retries, sweep, owner-only artifacts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from snapshots import services
from snapshots.models import Snapshot, SnapshotArtifact
from snapshots.storage import artifact_store

pytestmark = pytest.mark.django_db


@pytest.fixture
def done_snapshot(alice, make_link):
    """A finished snapshot with artifacts, made without a browser."""
    link = make_link(alice, "https://example.com/page", title="Page")
    snap = services.snapshot_request(link=link, queue=False)
    Snapshot.objects.filter(pk=snap.pk).update(status="succeeded", finished_at=timezone.now())
    for name, data, ctype in (
        ("page.html", b"<html><body><p>archived</p></body></html>", "text/html; charset=utf-8"),
        ("screenshot.png", b"\x89PNG\r\n\x1a\nfake", "image/png"),
        ("text.txt", b"archived text", "text/plain; charset=utf-8"),
    ):
        SnapshotArtifact.objects.create(snapshot=snap, name=name, artifact=artifact_store(data, ctype))
    snap.refresh_from_db()
    return snap


def test_request_a_snapshot_is_202_and_a_new_version(alice_api, alice, make_link):
    link = make_link(alice, "https://example.com/a")
    r1 = alice_api.post(f"/api/links/{link.pk}/snapshot/")
    r2 = alice_api.post(f"/api/links/{link.pk}/snapshot/")
    assert r1.status_code == r2.status_code == 202
    assert (r1.json()["version"], r2.json()["version"]) == (1, 2)
    assert r1.json()["status"] == "pending"
    versions = alice_api.get(f"/api/links/{link.pk}/snapshots/").json()
    assert [v["version"] for v in versions] == [2, 1]


@pytest.mark.snapshots
def test_saving_a_link_queues_a_pending_snapshot_in_the_same_transaction(alice_api):
    r = alice_api.post("/api/links/", {"url": "https://example.com/new"}, format="json")
    snaps = Snapshot.objects.filter(link_id=r.json()["id"])
    assert [(s.version, s.status, s.source) for s in snaps] == [(1, "pending", "save")]


def test_snapshot_list_shows_artifacts_and_provenance(alice_api, done_snapshot):
    body = alice_api.get(f"/api/links/{done_snapshot.link_id}/snapshots/").json()[0]
    assert set(body["artifacts"]) == {"page.html", "screenshot.png", "text.txt"}
    assert body["artifacts"]["page.html"]["url"].endswith(
        f"/api/snapshots/{done_snapshot.pk}/artifacts/page.html"
    )
    assert "provenance" in body and "failure_reason" in body


def test_archived_html_is_served_sandboxed_to_its_owner_only(alice_api, bob_api, done_snapshot):
    url = f"/api/snapshots/{done_snapshot.pk}/artifacts/page.html"
    r = alice_api.get(url)
    assert r.status_code == 200
    assert b"archived" in b"".join(r.streaming_content)
    csp = r["Content-Security-Policy"]
    assert csp.startswith("sandbox") and "allow-scripts" not in csp and "default-src 'none'" in csp
    assert r["X-Content-Type-Options"] == "nosniff"
    assert bob_api.get(url).status_code == 404
    assert alice_api.get(f"/api/snapshots/{done_snapshot.pk}/artifacts/nope.bin").status_code == 404


def test_other_users_snapshots_are_404_everywhere(bob_api, client, bob, done_snapshot):
    sid, lid = done_snapshot.pk, done_snapshot.link_id
    for method, path in (
        ("get", f"/api/snapshots/{sid}/"),
        ("post", f"/api/snapshots/{sid}/retry/"),
        ("get", f"/api/snapshots/{sid}/diff/?other={sid}"),
        ("get", f"/api/links/{lid}/snapshots/"),
        ("post", f"/api/links/{lid}/snapshot/"),
        ("put", f"/api/links/{lid}/snapshot-schedule/"),
    ):
        assert getattr(bob_api, method)(path).status_code == 404, path
    client.force_login(bob)
    for path in (
        f"/snapshots/{sid}/",
        f"/snapshots/{sid}/artifacts/page.html",
        f"/links/{lid}/snapshots/diff/",
    ):
        assert client.get(path).status_code == 404, path
    assert client.post(f"/links/{lid}/snapshot/").status_code == 404
    assert Snapshot.objects.filter(link_id=lid).count() == 1


def test_retry_only_a_failed_snapshot(alice_api, alice, done_snapshot):
    assert alice_api.post(f"/api/snapshots/{done_snapshot.pk}/retry/").status_code == 400
    Snapshot.objects.filter(pk=done_snapshot.pk).update(status="failed", failure_reason="timeout", attempts=3)
    r = alice_api.post(f"/api/snapshots/{done_snapshot.pk}/retry/")
    assert r.status_code == 202
    assert (r.json()["status"], r.json()["attempts"], r.json()["failure_reason"]) == ("pending", 0, "")
    assert r.json()["provenance"]["earlier_failures"][0]["reason"] == "timeout"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "binary"),
        (b"just words, no markup", "does not look like an HTML page"),
    ],
)
def test_bad_uploads_are_400_and_store_nothing(alice_api, alice, make_link, data, message):
    link = make_link(alice, "https://example.com/a")
    r = alice_api.post(
        f"/api/links/{link.pk}/snapshots/upload/",
        {"file": SimpleUploadedFile("x.html", data)},
        format="multipart",
    )
    assert r.status_code == 400
    assert message in str(r.json())
    assert not Snapshot.objects.filter(link=link).exists()


def test_oversized_upload_is_refused(alice_api, alice, make_link, settings):
    settings.SNAPSHOT_UPLOAD_MAX_BYTES = 100
    link = make_link(alice, "https://example.com/a")
    r = alice_api.post(
        f"/api/links/{link.pk}/snapshots/upload/",
        {"file": SimpleUploadedFile("x.html", b"<html>" + b"x" * 200)},
        format="multipart",
    )
    assert r.status_code == 400 and "limit" in str(r.json())


def test_upload_creates_a_pending_version(alice_api, alice, make_link):
    link = make_link(alice, "https://example.com/a")
    r = alice_api.post(
        f"/api/links/{link.pk}/snapshots/upload/",
        {"file": SimpleUploadedFile("x.html", b"<!doctype html><html><body>hi</body></html>")},
        format="multipart",
    )
    assert r.status_code == 202
    snap = Snapshot.objects.get(pk=r.json()["id"])
    assert snap.source == "upload" and snap.status == "pending"
    assert snap.snapshot_artifacts.filter(name="upload.html").exists()
    # The raw upload is never served; only its processed, sandboxed form is.
    assert alice_api.get(f"/api/snapshots/{snap.pk}/artifacts/upload.html").status_code == 404


def test_schedule(alice_api, alice, make_link):
    link = make_link(alice, "https://example.com/a")
    assert alice_api.put(
        f"/api/links/{link.pk}/snapshot-schedule/", {"every_days": 7}, format="json"
    ).json() == {"every_days": 7}
    assert (
        alice_api.put(
            f"/api/links/{link.pk}/snapshot-schedule/", {"every_days": 9999}, format="json"
        ).status_code
        == 400
    )
    link.snapshot_schedule.next_at = timezone.now() - timedelta(minutes=1)
    link.snapshot_schedule.save()
    assert services.snapshot_schedules_run() == 1
    assert Snapshot.objects.get(link=link).source == "schedule"
    assert services.snapshot_schedules_run() == 0  # next run is a week away
    alice_api.put(f"/api/links/{link.pk}/snapshot-schedule/", {"every_days": None}, format="json")
    assert not type(link.snapshot_schedule).objects.filter(link=link).exists()


def test_claim_is_conditional(alice, make_link):
    link = make_link(alice, "https://example.com/a")
    snap = services.snapshot_request(link=link, queue=False)
    assert services.snapshot_claim(snapshot_id=snap.pk, worker="w1") is not None
    assert services.snapshot_claim(snapshot_id=snap.pk, worker="w2") is None  # running, fresh heartbeat


def test_sweep_recovers_rows_whose_worker_died(alice, make_link, settings, monkeypatch):
    settings.SNAPSHOT_RETRY_BASE_SECONDS = 0.01
    queued = []
    monkeypatch.setattr(services, "_queue", lambda snapshot_id, countdown=None: queued.append(snapshot_id))
    link = make_link(alice, "https://example.com/a")
    retried = services.snapshot_request(link=link, queue=False)
    last_try = services.snapshot_request(link=link, queue=False)
    old = timezone.now() - timedelta(hours=1)
    Snapshot.objects.filter(pk=retried.pk).update(status="running", attempts=1, heartbeat_at=old)
    Snapshot.objects.filter(pk=last_try.pk).update(status="running", attempts=3, heartbeat_at=old)
    result = services.snapshots_sweep()
    assert result["worker_lost"] == 2
    retried.refresh_from_db()
    last_try.refresh_from_db()
    assert (retried.status, retried.failure_reason) == ("pending", "worker_lost")
    assert (last_try.status, last_try.failure_reason) == ("failed", "worker_lost")
    assert "worker stopped" in last_try.failure_message
    assert queued == [retried.pk]  # queued again for its next attempt


def test_sweep_requeues_pending_rows_whose_message_was_lost(
    alice, make_link, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(services, "_queue", lambda snapshot_id, countdown=None: queued.append(snapshot_id))
    # Other tests share the broker and may leave messages in its snapshots queue: this test is
    # about an empty queue (the backlog case has its own test below).
    monkeypatch.setattr(services, "_queue_backlog", lambda: 0)
    link = make_link(alice, "https://example.com/a")
    lost = services.snapshot_request(link=link, queue=False)
    fresh = services.snapshot_request(link=link, queue=False)
    Snapshot.objects.filter(pk=lost.pk).update(not_before=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.snapshots_sweep() == {"worker_lost": 0, "requeued": 1}
    assert queued == [lost.pk] and fresh.pk not in queued
    # The next sweep, a minute later, leaves it alone: it was queued again just now.
    with django_capture_on_commit_callbacks(execute=True):
        assert services.snapshots_sweep() == {"worker_lost": 0, "requeued": 0}
    assert queued == [lost.pk]


def test_sweep_leaves_pending_rows_alone_while_the_queue_has_a_backlog(alice, make_link, monkeypatch):
    queued = []
    monkeypatch.setattr(services, "_queue", lambda snapshot_id, countdown=None: queued.append(snapshot_id))
    monkeypatch.setattr(services, "_queue_backlog", lambda: 250)
    link = make_link(alice, "https://example.com/a")
    waiting = services.snapshot_request(link=link, queue=False)
    Snapshot.objects.filter(pk=waiting.pk).update(not_before=timezone.now() - timedelta(hours=1))
    assert services.snapshots_sweep() == {"worker_lost": 0, "requeued": 0}
    assert queued == []


def test_claim_waits_for_not_before_and_takeover_respects_max_attempts(alice, make_link):
    link = make_link(alice, "https://example.com/a")
    later = services.snapshot_request(link=link, queue=False)
    Snapshot.objects.filter(pk=later.pk).update(not_before=timezone.now() + timedelta(minutes=5))
    assert services.snapshot_claim(snapshot_id=later.pk, worker="w1") is None  # backoff not over
    spent = services.snapshot_request(link=link, queue=False)
    old = timezone.now() - timedelta(hours=1)
    Snapshot.objects.filter(pk=spent.pk).update(status="running", attempts=3, heartbeat_at=old)
    assert services.snapshot_claim(snapshot_id=spent.pk, worker="w2") is None  # the sweep ends it
    Snapshot.objects.filter(pk=spent.pk).update(attempts=1)
    taken = services.snapshot_claim(snapshot_id=spent.pk, worker="w2")
    assert taken is not None and taken.attempts == 2 and taken.worker == "w2"


def test_retry_delay_stays_under_the_broker_visibility_timeout(settings):
    settings.SNAPSHOT_RETRY_BASE_SECONDS = 600
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 900}
    assert all(services.retry_delay(n) <= 840 for n in range(1, 8))


def test_retry_delays_grow_with_jitter(settings):
    settings.SNAPSHOT_RETRY_BASE_SECONDS = 10
    delays = [services.retry_delay(n) for n in (1, 2, 3)]
    assert 5 <= delays[0] <= 15 and 10 <= delays[1] <= 30 and 20 <= delays[2] <= 60


def test_link_page_shows_the_snapshot_panel(client, alice, done_snapshot):
    client.force_login(alice)
    page = client.get(f"/links/{done_snapshot.link_id}/").content.decode()
    assert 'data-testid="snapshot-panel"' in page and "captured" in page
    assert f"/snapshots/{done_snapshot.pk}/" in page
    detail = client.get(f"/snapshots/{done_snapshot.pk}/").content.decode()
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in detail
    assert client.get(f"/snapshots/{done_snapshot.pk}/artifacts/page.html").status_code == 200


def test_link_list_shows_thumbnails_and_failed_snapshots(client, alice, make_link, done_snapshot):
    failed_link = make_link(alice, "https://example.com/broken")
    failed = services.snapshot_request(link=failed_link, queue=False)
    Snapshot.objects.filter(pk=failed.pk).update(status="failed", failure_reason="http_4xx")
    SnapshotArtifact.objects.create(
        snapshot=done_snapshot, name="thumbnail.png", artifact=artifact_store(b"\x89PNG thumb", "image/png")
    )
    client.force_login(alice)
    page = client.get("/links/").content.decode()
    assert f"/snapshots/{done_snapshot.pk}/artifacts/thumbnail.png" in page
    assert "snapshot failed" in page and "client error" in page


def test_unused_artifacts_are_deleted_with_their_files(alice, make_link, django_capture_on_commit_callbacks):
    from django.core.files.storage import default_storage

    from snapshots.models import Artifact
    from snapshots.storage import artifacts_collect_garbage

    link = make_link(alice, "https://example.com/gone")
    snap = services.snapshot_request(link=link, queue=False)
    kept = artifact_store(b"kept bytes", "text/plain")
    gone = artifact_store(b"orphan bytes", "text/plain")
    SnapshotArtifact.objects.create(snapshot=snap, name="text.txt", artifact=kept)
    Artifact.objects.update(created_at=timezone.now() - timedelta(days=2))
    fresh = artifact_store(b"just stored, not yet used", "text/plain")  # too young to collect
    with django_capture_on_commit_callbacks(execute=True):
        result = artifacts_collect_garbage()
    assert result == {"deleted": 1, "bytes": len(b"orphan bytes")}
    assert set(Artifact.objects.values_list("pk", flat=True)) == {kept.pk, fresh.pk}
    assert not default_storage.exists(gone.path) and default_storage.exists(kept.path)
    link.delete()  # the link, its versions and their artifact rows go; the files follow later
    Artifact.objects.update(created_at=timezone.now() - timedelta(days=2))
    with django_capture_on_commit_callbacks(execute=True):
        assert artifacts_collect_garbage()["deleted"] == 2
    assert not Artifact.objects.exists() and not default_storage.exists(kept.path)


def test_a_lease_shorter_than_a_few_heartbeats_is_refused(settings):
    from snapshots.checks import lease_outlasts_heartbeats

    settings.SNAPSHOT_LEASE_SECONDS = 180
    assert lease_outlasts_heartbeats() == []
    settings.SNAPSHOT_LEASE_SECONDS = 5
    (error,) = lease_outlasts_heartbeats()
    assert error.id == "snapshots.E001" and "at least 15" in error.msg
