"""The snapshot pipeline with real Chromium against the local fixture site."""

from __future__ import annotations

import os

import pytest

from linkhub.links.models import Link
from snapshots import services
from snapshots.models import Snapshot
from snapshots.pipeline import snapshot_run
from snapshots.selectors import snapshot_text
from snapshots.storage import artifact_read

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API in a test thread

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


def run(link: Link) -> Snapshot:
    """Request and render a snapshot here, retrying as a worker would (without the waits)."""
    snapshot = services.snapshot_request(link=link, queue=False)
    for _ in range(10):
        outcome = snapshot_run(snapshot_id=snapshot.pk, worker="test")
        if outcome is None or outcome.retry_in is None:
            break
    snapshot.refresh_from_db()
    return snapshot


def names(snapshot: Snapshot) -> set[str]:
    return set(snapshot.snapshot_artifacts.values_list("name", flat=True))


def artifact(snapshot: Snapshot, name: str) -> bytes:
    return artifact_read(snapshot.snapshot_artifacts.get(name=name).artifact)


def test_styled_page_gets_every_artifact_metadata_and_provenance(fixture_site, alice, make_link):
    link = make_link(alice, fixture_site("/styled"))
    snap = run(link)
    assert snap.status == "succeeded", snap.failure_message
    assert names(snap) >= {"screenshot.png", "thumbnail.png", "page.pdf", "page.html", "text.txt"}
    assert artifact(snap, "screenshot.png").startswith(b"\x89PNG")
    assert artifact(snap, "page.pdf").startswith(b"%PDF")
    html = artifact(snap, "page.html").decode()
    assert "<script" not in html.lower()
    assert "data:font/" in html or "data:application/font" in html or "data:application/x-font" in html
    assert "data:image/png;base64" in html
    assert "FixtureMono" in html
    text = snapshot_text(snap)
    assert "Archivists keep the pages people save" in text
    assert snap.title == "Styled fixture page"
    assert snap.description == "A page with a stylesheet, a web font and images."
    assert snap.language == "en"
    assert snap.canonical_url == fixture_site("/styled")
    assert snap.favicon_url == fixture_site("/favicon.png")
    assert snap.preview_image_url == fixture_site("/photo.png")
    assert (snap.http_status, snap.final_url) == (200, fixture_site("/styled"))
    assert snap.content_type.startswith("text/html")
    prov = snap.provenance
    assert prov["browser"].startswith("Chromium")
    assert prov["viewport"] == {"width": 1280, "height": 900}
    assert {"navigation", "settle", "capture", "store", "queue_wait"} <= set(prov["timings"])
    assert prov["wait_strategy"]["load_event"] is True
    assert prov["bytes"]["stored"] > 0
    # The link's search now covers the page's text.
    link.refresh_from_db()
    assert "Archivists" in link.content_text


def test_the_same_bytes_are_stored_once(fixture_site, alice, bob, make_link):
    a = run(make_link(alice, fixture_site("/photo.png")))
    b = run(make_link(bob, fixture_site("/photo.png")))
    assert a.status == b.status == "succeeded"
    assert (
        a.snapshot_artifacts.get(name="original").artifact_id
        == b.snapshot_artifacts.get(name="original").artifact_id
    )


def test_lazy_images_are_loaded(fixture_site, alice, make_link):
    snap = run(make_link(alice, fixture_site("/lazy")))
    assert snap.status == "succeeded"
    assert "/photo.png?native" in fixture_site.hits
    assert "/photo.png?observed" in fixture_site.hits
    assert artifact(snap, "page.html").decode().count("data:image/png;base64") >= 2
    wait = snap.provenance["wait_strategy"]
    assert wait["scroll_skipped"] is False and wait["scroll_steps"] > 0
    assert wait["lazy_signals"]["observers"] >= 1 and wait["lazy_signals"]["native"] == 1


def test_content_loaded_on_scroll_is_captured_and_plain_pages_are_not_scrolled(
    fixture_site, alice, make_link
):
    feed = run(make_link(alice, fixture_site("/infinite")))
    assert feed.status == "succeeded", feed.failure_message
    assert "feed item 2 loaded on scroll" in snapshot_text(feed)
    assert feed.provenance["wait_strategy"]["lazy_signals"]["listeners"] >= 1
    plain = run(make_link(alice, fixture_site("/styled")))
    assert plain.provenance["wait_strategy"]["scroll_skipped"] is True


def test_script_built_page_comes_out_complete(fixture_site, alice, make_link):
    snap = run(make_link(alice, fixture_site("/scripted")))
    assert snap.status == "succeeded"
    assert snap.title == "Built by script"
    assert "second item from the API" in snapshot_text(snap)


def test_redirect_chain_is_recorded(fixture_site, alice, make_link):
    snap = run(make_link(alice, fixture_site("/redirect/3")))
    assert snap.status == "succeeded"
    assert [hop["url"] for hop in snap.redirect_chain] == [
        fixture_site("/redirect/3"),
        fixture_site("/redirect/2"),
        fixture_site("/redirect/1"),
        fixture_site("/styled"),
    ]
    assert [hop["status"] for hop in snap.redirect_chain] == [301, 302, 301, 200]
    assert snap.final_url == fixture_site("/styled")


@pytest.mark.parametrize("path", ["/redirect-private", "/redirect-metadata", "/redirect-decimal"])
def test_redirect_to_a_private_address_is_blocked(fixture_site, alice, make_link, path):
    snap = run(make_link(alice, fixture_site(path)))
    assert snap.status == "failed"
    assert snap.failure_reason == "blocked_address"
    assert snap.attempts == 1  # not transient: no retry
    assert "not allowed" in snap.failure_detail


def test_saved_url_on_a_private_address_is_blocked_without_a_browser(alice, make_link, settings):
    settings.SNAPSHOT_ALLOWED_NETWORKS = []
    snap = run(make_link(alice, "http://127.0.0.1:9/admin"))
    assert (snap.status, snap.failure_reason) == ("failed", "blocked_address")


def test_404_fails_without_retry_and_500_is_retried(fixture_site, alice, make_link):
    not_found = run(make_link(alice, fixture_site("/status/404")))
    assert (not_found.status, not_found.failure_reason, not_found.attempts) == ("failed", "http_4xx", 1)
    assert "404" in not_found.failure_detail
    server_error = run(make_link(alice, fixture_site("/status/500")))
    assert (server_error.status, server_error.failure_reason) == ("failed", "http_5xx")
    assert server_error.attempts == server_error.max_attempts == 3
    assert len(server_error.provenance["attempts_log"]) == 3


def test_page_that_never_finishes_loading_times_out(fixture_site, alice, make_link, settings):
    settings.SNAPSHOT_MAX_ATTEMPTS = 1
    settings.SNAPSHOT_NAV_TIMEOUT = 3
    snap = run(make_link(alice, fixture_site("/hang")))
    assert (snap.status, snap.failure_reason) == ("failed", "timeout")


def test_a_subresource_that_never_arrives_does_not_stop_the_capture(fixture_site, alice, make_link, settings):
    settings.SNAPSHOT_SETTLE_TIMEOUT = 2
    snap = run(make_link(alice, fixture_site("/slow-image")))
    assert snap.status == "succeeded"
    assert snap.provenance["wait_strategy"]["load_event"] is False
    assert "even though an image never arrives" in snapshot_text(snap)


def test_oversized_page_fails_as_too_large(fixture_site, alice, make_link, settings):
    settings.SNAPSHOT_MAX_BYTES = 2 * 1024 * 1024
    snap = run(make_link(alice, fixture_site("/huge")))
    assert (snap.status, snap.failure_reason) == ("failed", "too_large")


def test_pdf_is_stored_as_itself_with_its_text(fixture_site, alice, make_link):
    snap = run(make_link(alice, fixture_site("/doc.pdf")))
    assert snap.status == "succeeded", snap.failure_message
    assert artifact(snap, "original").startswith(b"%PDF")
    assert snap.snapshot_artifacts.get(name="original").artifact.content_type == "application/pdf"
    assert "Hello PDF archive" in snapshot_text(snap)


def test_image_is_stored_as_itself(fixture_site, alice, make_link):
    snap = run(make_link(alice, fixture_site("/image.png")))
    assert snap.status == "succeeded", snap.failure_message
    assert artifact(snap, "original").startswith(b"\x89PNG")
    assert "screenshot.png" in names(snap)


def test_svg_is_captured_as_a_page(fixture_site, alice, make_link):
    snap = run(make_link(alice, fixture_site("/drawing.svg")))
    assert snap.status == "succeeded", snap.failure_message
    assert {"screenshot.png", "thumbnail.png", "original"} <= names(snap)
    assert artifact(snap, "original").startswith(b"<svg")  # an image is kept as itself
    assert snap.content_type.startswith("image/svg+xml")


def test_unsupported_content_fails_with_a_reason(fixture_site, alice, make_link):
    snap = run(make_link(alice, fixture_site("/archive.zip")))
    assert (snap.status, snap.failure_reason, snap.attempts) == ("failed", "unsupported_content", 1)
    assert "application/zip" in snap.failure_detail


def test_hostile_script_is_contained(fixture_site, alice, make_link):
    snap = run(make_link(alice, fixture_site("/hostile")))
    assert snap.status == "succeeded", snap.failure_message
    html = artifact(snap, "page.html").decode().lower()
    assert "<script" not in html and "onerror" not in html and "onload" not in html
    assert "javascript:" not in html
    blocked_hosts = {b["host"] for b in snap.provenance["network"]["blocked"]}
    assert {"10.20.30.40", "10.0.0.5"} <= blocked_hosts
    assert not any("steal" in hit or "exfiltrate" in hit for hit in fixture_site.hits)


@pytest.mark.parametrize(("path", "words"), [("/blank", "blank"), ("/captcha", "captcha")])
def test_suspect_captures_fail_and_keep_their_artifacts(
    fixture_site, alice, make_link, settings, path, words
):
    settings.SNAPSHOT_MAX_ATTEMPTS = 2
    link = make_link(alice, fixture_site(path))
    snap = run(link)
    assert (snap.status, snap.failure_reason) == ("failed", "suspect")
    assert snap.attempts == 2  # a suspect capture counts as a failure for retries
    assert words in snap.suspect_reason.lower()
    assert "screenshot.png" in names(snap)
    link.refresh_from_db()
    assert link.content_text == ""  # never used for search (or tags)


def test_uploaded_capture_is_processed_offline(fixture_site, alice, make_link):
    from django.core.files.uploadedfile import SimpleUploadedFile

    link = make_link(alice, fixture_site("/article"))
    page = (
        "<!doctype html><html lang='en'><head><title>Saved by SingleFile</title>"
        "<style>h1 { color: rgb(200, 0, 0); }</style></head><body><h1>Client-side capture</h1>"
        "<p>This page was saved in the user's own browser, where the site let them in.</p>"
        f"<img src='{fixture_site('/photo.png?from-upload')}'>"
        "<script>document.title='ran'</script></body></html>"
    )
    snap = services.snapshot_upload(
        link=link, actor=alice, upload=SimpleUploadedFile("page.html", page.encode())
    )
    snapshot_run(snapshot_id=snap.pk, worker="test")
    snap.refresh_from_db()
    assert snap.status == "succeeded", snap.failure_message
    assert snap.source == "upload"
    assert snap.title == "Saved by SingleFile"
    assert "saved in the user's own browser" in snapshot_text(snap)
    assert "<script" not in artifact(snap, "page.html").decode().lower()
    assert "/photo.png?from-upload" not in fixture_site.hits  # rendered with the network off


def test_versions_and_text_diff(fixture_site, alice, make_link):
    from snapshots.selectors import snapshot_text_diff

    link = make_link(alice, fixture_site("/changing"))
    first, second = run(link), run(link)
    assert (first.version, second.version) == (1, 2)
    assert first.status == second.status == "succeeded"
    lines = snapshot_text_diff(first, second)
    removed = [x.text for x in lines if x.kind == "removed"]
    added = [x.text for x in lines if x.kind == "added"]
    assert any("version number" in t for t in removed) and any("version number" in t for t in added)
    assert Snapshot.objects.filter(link=link).count() == 2  # the old version stays


def test_browser_is_reused_then_recycled(fixture_site, alice, make_link, settings):
    from snapshots.renderer.browser import POOL, RENDERER

    settings.SNAPSHOT_BROWSER_RECYCLE = 2
    RENDERER.run(POOL.reset, timeout=30)  # Playwright objects belong to the render thread
    launches = []
    for i in range(3):
        assert run(make_link(alice, fixture_site(f"/styled?n={i}"))).status == "succeeded"
        launches.append(POOL.launches)
    assert launches[1] == launches[0]  # the second snapshot reused the browser
    assert launches[2] == launches[0] + 1  # the third came after the recycle


def test_an_unexpected_error_ends_the_snapshot_failed_not_running(alice, make_link, monkeypatch):
    from snapshots.renderer import browser

    def explode(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(browser.RENDERER, "run", explode)
    snapshot = run(make_link(alice, "https://example.com/bug"))
    assert (snapshot.status, snapshot.failure_reason) == ("failed", "internal")
    assert "KeyError" in snapshot.failure_detail and snapshot.finished_at is not None
