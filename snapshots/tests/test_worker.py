"""A real Celery worker on the real broker: a link saved through the API gets its snapshot, and a
worker killed in the middle of a capture does not leave the snapshot hanging."""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest

from snapshots import services
from snapshots.models import Snapshot
from snapshots.tests.worker_fixture import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.snapshots,
    pytest.mark.django_db(transaction=True),
]


def test_link_saved_through_the_api_gets_its_snapshot(fixture_site, alice_api, start_worker):
    start_worker()
    r = alice_api.post("/api/links/", {"url": fixture_site("/styled")}, format="json")
    assert r.status_code == 201
    link_id = r.json()["id"]

    def finished():
        snap = Snapshot.objects.filter(link_id=link_id).first()
        return snap if snap and snap.is_finished else None

    snap = wait_for(finished, 90, "the snapshot")
    assert snap.status == "succeeded", snap.failure_message
    assert snap.worker.startswith("test0@")
    body = alice_api.get(f"/api/links/{link_id}/snapshots/").json()[0]
    assert {"screenshot.png", "page.pdf", "page.html", "text.txt", "thumbnail.png"} <= set(body["artifacts"])
    found = alice_api.get("/api/links/", {"q": "Archivists"}).json()["results"]
    assert [x["id"] for x in found] == [link_id]  # the snapshot text joined the search


def test_a_worker_killed_mid_capture_does_not_leave_the_snapshot_hanging(
    fixture_site, alice_api, start_worker, settings
):
    settings.SNAPSHOT_LEASE_SECONDS = 2
    worker = start_worker()
    r = alice_api.post("/api/links/", {"url": fixture_site("/hang-once")}, format="json")
    link_id = r.json()["id"]
    snap = wait_for(
        lambda: Snapshot.objects.filter(link_id=link_id, status="running").first(), 60, "the capture to start"
    )
    wait_for(lambda: "/hang-once" in fixture_site.hits, 30, "the browser to reach the page")
    os.killpg(worker.pid, signal.SIGKILL)  # the worker, its browser and all: gone mid-capture
    worker.wait(timeout=10)
    time.sleep(settings.SNAPSHOT_LEASE_SECONDS + 0.5)

    result = services.snapshots_sweep()  # what beat runs every minute
    assert result["worker_lost"] == 1
    snap.refresh_from_db()
    assert (snap.status, snap.failure_reason) == ("pending", "worker_lost")

    start_worker()
    snap = wait_for(
        lambda: Snapshot.objects.filter(pk=snap.pk, status__in=["succeeded", "failed"]).first(),
        90,
        "the retry",
    )
    assert snap.status == "succeeded", snap.failure_message
    assert snap.attempts == 2
    assert snap.provenance["attempts_log"][0]["reason"] == "worker_lost"
    assert snap.title == "Second time lucky"


def test_a_worker_stopped_with_sigterm_closes_its_browser(fixture_site, alice_api, start_worker):
    """Warm shutdown closes the browser on the thread that drives it (Playwright's objects belong
    to the render thread; from another thread the close failed and the browser was left to die)."""
    worker = start_worker()
    r = alice_api.post("/api/links/", {"url": fixture_site("/styled")}, format="json")
    link_id = r.json()["id"]
    wait_for(
        lambda: Snapshot.objects.filter(link_id=link_id, status="succeeded").exists(), 90, "the snapshot"
    )
    family = [psutil.Process(worker.pid), *psutil.Process(worker.pid).children(recursive=True)]
    assert any("chrom" in p.name().lower() or "headless" in p.name().lower() for p in family)
    os.killpg(worker.pid, signal.SIGTERM)  # as a deployment stops it
    worker.wait(timeout=60)
    log = open(worker.log_path, errors="replace").read()
    assert "closing the browser failed" not in log
    assert "stopping Playwright failed" not in log
    wait_for(lambda: not any(_alive(p) for p in family), 15, "the browser to end")


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
