"""Importing bookmark files (API, web, command) and exporting them again."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from linkhub.links.models import ImportJob, Link, Tag, TaggedLink, TagOrigin

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent / "fixtures"


def _upload(client, data: bytes, name: str = "bookmarks.html"):
    return client.post(
        "/api/imports/", {"file": SimpleUploadedFile(name, data, "text/html")}, format="multipart"
    )


@pytest.mark.smoke
def test_import_via_api_creates_links_with_folder_tags(alice_api, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        r = _upload(alice_api, (FIXTURES / "firefox.html").read_bytes())
    assert r.status_code == 202, r.content
    job_id = r.json()["id"]
    progress = alice_api.get(f"/api/imports/{job_id}/").json()
    assert progress["status"] == "succeeded"
    assert (progress["total"], progress["done"], progress["created"], progress["failed"]) == (7, 7, 5, 2)
    reasons = {e["url"]: e["reason"] for e in progress["errors"]}
    assert "http and https" in reasons["javascript:alert(1)"]
    assert "place:sort=8&maxResults=10" in reasons

    link = Link.objects.get(owner=alice, url="https://docs.python.org/3/")
    assert link.title == "Python 3 & you — docs"
    assert link.description == "The official documentation <3"
    assert set(link.tags.names()) == {"Programming", "Python", "docs", "reference"}
    assert link.created_at.timestamp() == 1600000200
    assert set(TaggedLink.objects.filter(content_object=link).values_list("origin", flat=True)) == {
        TagOrigin.IMPORT
    }
    # Tracking parameters were dropped, the URL normalised.
    assert Link.objects.filter(owner=alice, url="https://peps.python.org/pep-0008/").exists()
    assert Link.objects.filter(owner=alice, domain="ru.wikipedia.org").exists()


def test_reimport_is_idempotent_and_keeps_user_edits(alice_api, alice, django_capture_on_commit_callbacks):
    data = (FIXTURES / "pinboard.html").read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        _upload(alice_api, data)
    assert Link.objects.filter(owner=alice).count() == 2  # "#again" is the same page
    private = Link.objects.get(owner=alice, url="https://example.com/private")
    assert private.is_private and not private.is_read
    assert set(Link.objects.get(url="https://example.com/public").tags.names()) == {"dup"}

    Link.objects.filter(pk=private.pk).update(title="My own title")
    with django_capture_on_commit_callbacks(execute=True):
        r = _upload(alice_api, data)
    job = alice_api.get(f"/api/imports/{r.json()['id']}/").json()
    assert (job["created"], job["existing"]) == (0, 2)
    assert Link.objects.filter(owner=alice).count() == 2
    private.refresh_from_db()
    assert private.title == "My own title"


def test_import_tags_merge_with_existing_tags_case_insensitively(
    alice_api, alice, make_link, django_capture_on_commit_callbacks
):
    make_link(alice, "https://elsewhere.example/", tags=["PROGRAMMING"])
    with django_capture_on_commit_callbacks(execute=True):
        _upload(alice_api, (FIXTURES / "firefox.html").read_bytes())
    assert Tag.objects.filter(owner=alice, name__iexact="programming").count() == 1


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "empty.html", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "image.png", "binary"),
        (b"<html><body>Not bookmarks</body></html>", "page.html", "No bookmarks"),
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00", "bookmarks.zip", "binary"),
        (b"name,url\nx,https://example.com/\n", "bookmarks.csv", "No bookmarks"),
    ],
)
def test_broken_files_are_a_400_and_import_nothing(alice_api, alice, data, name, message):
    r = _upload(alice_api, data, name)
    assert r.status_code == 400
    assert message.lower() in json.dumps(r.json()).lower()
    assert ImportJob.objects.count() == 0
    assert Link.objects.count() == 0


def test_missing_file_is_a_400(alice_api):
    assert alice_api.post("/api/imports/", {}, format="multipart").status_code == 400


def test_oversized_file_is_refused(alice_api, settings):
    settings.IMPORT_MAX_BYTES = 100
    r = _upload(alice_api, b'<DL><DT><A HREF="https://example.com/">x</A>' + b" " * 200)
    assert r.status_code == 400
    assert "limit" in json.dumps(r.json())
    assert ImportJob.objects.count() == 0


def test_import_progress_is_recorded_per_batch(alice, settings):
    from linkhub.links import services

    settings.IMPORT_BATCH_SIZE = 10
    body = "".join(f'<DT><A HREF="https://example.com/{i}">Link {i}</A>\n' for i in range(35))
    job = services.import_start(
        owner=alice, upload=SimpleUploadedFile("b.html", f"<DL>{body}</DL>".encode()), queue=False
    )
    seen = []
    services.import_run(job_id=job.pk, on_progress=lambda done, total: seen.append((done, total)))
    assert seen == [(10, 35), (20, 35), (30, 35), (35, 35)]
    job.refresh_from_db()
    assert (job.status, job.done, job.created) == ("succeeded", 35, 35)
    # A second run of the same job is a no-op (the claim is conditional).
    assert services.import_run(job_id=job.pk) is None


def test_lost_pending_imports_are_queued_again_by_the_sweep(alice, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    from linkhub.links import services

    job = services.import_start(
        owner=alice,
        upload=SimpleUploadedFile("b.html", b'<DL><DT><A HREF="https://example.com/">x</A></DL>'),
        queue=False,  # as if the task message had been lost
    )
    ImportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    assert services.imports_sweep_stale() == 1
    job.refresh_from_db()
    assert job.status == "succeeded" and job.created == 1
    assert not job.file  # the uploaded file is removed once its links are saved


def test_stale_running_imports_are_failed_by_the_sweep(alice):
    from datetime import timedelta

    from django.utils import timezone

    from linkhub.links import services

    old = timezone.now() - timedelta(hours=2)
    job = ImportJob.objects.create(
        owner=alice, status=ImportJob.Status.RUNNING, started_at=old, progressed_at=old
    )
    fresh = ImportJob.objects.create(
        owner=alice, status=ImportJob.Status.RUNNING, started_at=old, progressed_at=timezone.now()
    )
    assert services.imports_sweep_stale() == 1
    job.refresh_from_db()
    fresh.refresh_from_db()
    assert job.status == "failed" and "Import the same file again" in job.message
    assert fresh.status == "running"


def test_import_command(alice, tmp_path):
    out = StringIO()
    call_command("import_bookmarks", str(FIXTURES / "firefox.html"), "--user", "alice", stdout=out)
    assert "5 new" in out.getvalue()
    assert "7/7" in out.getvalue()
    assert Link.objects.filter(owner=alice).count() == 5


def test_import_command_errors(alice, tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_bytes(b"")
    with pytest.raises(CommandError, match="empty"):
        call_command("import_bookmarks", str(bad), "--user", "alice")
    with pytest.raises(CommandError, match="No user"):
        call_command("import_bookmarks", str(bad), "--user", "nobody")
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_bookmarks", str(tmp_path / "missing.html"), "--user", "alice")


@pytest.mark.smoke
def test_export_netscape_and_json(alice_api, alice, make_link):
    make_link(
        alice, "https://example.com/a", title="A & B", description="desc", tags=["x", "y z"], is_private=True
    )
    make_link(alice, "https://example.com/b", title="Other", tags=["other"])
    r = alice_api.get("/api/export/?format=netscape")
    assert r.status_code == 200
    assert r["Content-Disposition"].startswith("attachment;")
    html = b"".join(r.streaming_content).decode()
    assert html.startswith("<!DOCTYPE NETSCAPE-Bookmark-file-1>")
    assert 'HREF="https://example.com/a"' in html and "A &amp; B" in html
    assert 'TAGS="x,y z"' in html and 'PRIVATE="1"' in html

    r = alice_api.get("/api/export/?format=json&tag=x")
    doc = json.loads(b"".join(r.streaming_content))
    assert [row["url"] for row in doc["links"]] == ["https://example.com/a"]
    assert doc["links"][0]["tags"] == ["x", "y z"]
    assert alice_api.get("/api/export/?format=csv").status_code == 400


def test_export_then_import_into_another_account_round_trips(
    alice_api, bob_api, alice, bob, make_link, django_capture_on_commit_callbacks
):
    make_link(alice, "https://example.com/a", title="A", description="first", tags=["t1", "t2"])
    make_link(alice, "https://example.com/b", title="B", is_read=True)
    html = b"".join(alice_api.get("/api/export/?format=netscape").streaming_content)
    with django_capture_on_commit_callbacks(execute=True):
        assert _upload(bob_api, html).status_code == 202
    bobs = {link.url: link for link in Link.objects.filter(owner=bob)}
    assert set(bobs) == {"https://example.com/a", "https://example.com/b"}
    assert set(bobs["https://example.com/a"].tags.names()) == {"t1", "t2"}
    assert bobs["https://example.com/a"].description == "first"
    assert bobs["https://example.com/b"].is_read is True
