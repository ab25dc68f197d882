"""The web pages for links, tags, import and export."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from linkhub.links.models import ImportJob, Link, Tag

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


def test_pages_need_login(client):
    for path in ("/links/", "/links/new/", "/tags/", "/import/", "/export/", "/account/settings/"):
        r = client.get(path)
        assert r.status_code == 302 and r["Location"].startswith("/login/"), path


def test_home_redirects_to_links(alice_client):
    assert alice_client.get("/")["Location"] == "/links/"


def test_save_link_from_form(alice_client, alice):
    r = alice_client.post(
        "/links/new/", {"url": "https://example.com/page#x", "title": "Page", "tags": "one, two words"}
    )
    link = Link.objects.get(owner=alice)
    assert r.status_code == 302 and r["Location"] == f"/links/{link.pk}/"
    assert link.url == "https://example.com/page"
    assert sorted(link.tags.names()) == ["one", "two words"]
    page = alice_client.get(f"/links/{link.pk}/")
    assert b"#two words" in page.content


def test_saving_again_says_it_exists(alice_client, alice, make_link):
    link = make_link(alice, "https://example.com/page")
    r = alice_client.post("/links/new/", {"url": "https://example.com/page", "tags": "later"}, follow=True)
    assert b"You saved this link before" in r.content
    assert Link.objects.filter(owner=alice).count() == 1
    assert list(link.tags.names()) == ["later"]


def test_bad_url_in_form_shows_the_reason(alice_client):
    r = alice_client.post("/links/new/", {"url": "javascript:alert(1)"})
    assert r.status_code == 200
    assert b"Only http and https URLs can be saved" in r.content
    assert Link.objects.count() == 0


def test_bookmarklet_prefills_and_returns_to_the_page(alice_client, alice):
    r = alice_client.get("/links/new/?bookmarklet=1&url=https://example.com/art&title=An+article")
    assert b'value="https://example.com/art"' in r.content and b'value="An article"' in r.content
    assert b'name="return_to_page"' in r.content
    r = alice_client.post(
        "/links/new/", {"url": "https://example.com/art", "title": "An article", "return_to_page": "1"}
    )
    assert r.status_code == 302 and r["Location"] == "https://example.com/art"


def test_list_search_filter_and_pagination(alice_client, alice, make_link):
    for i in range(55):
        make_link(
            alice, f"https://example.com/{i}", title=f"Item {i}", tags=["even" if i % 2 == 0 else "odd"]
        )
    r = alice_client.get("/links/")
    assert r.status_code == 200
    assert r.content.count(b'class="link ') == 50
    assert b"page 1 of 2" in r.content
    r = alice_client.get("/links/?tag=odd&page=1")
    assert r.content.count(b'class="link ') == 27
    r = alice_client.get("/links/?q=Item+42")
    assert b"Item 42" in r.content


def test_edit_delete_and_toggle_read(alice_client, alice, make_link):
    link = make_link(alice, "https://example.com/a", tags=["x"])
    r = alice_client.post(
        f"/links/{link.pk}/edit/", {"url": "https://example.com/a", "title": "Edited", "tags": "y"}
    )
    assert r.status_code == 302
    link.refresh_from_db()
    assert link.title == "Edited" and list(link.tags.names()) == ["y"]
    alice_client.post(f"/links/{link.pk}/read/")
    link.refresh_from_db()
    assert link.is_read
    assert alice_client.get(f"/links/{link.pk}/delete/").status_code == 200
    alice_client.post(f"/links/{link.pk}/delete/")
    assert not Link.objects.filter(pk=link.pk).exists()


def test_bulk_form(alice_client, alice, make_link):
    a, b = make_link(alice, "https://example.com/a"), make_link(alice, "https://example.com/b")
    r = alice_client.post("/links/bulk/", {"ids": [a.pk, b.pk], "action": "add_tags", "tags": "new, other"})
    assert r.status_code == 302
    assert sorted(a.tags.names()) == ["new", "other"] and sorted(b.tags.names()) == ["new", "other"]
    r = alice_client.post("/links/bulk/", {"ids": [a.pk], "action": "add_tags", "tags": ""}, follow=True)
    assert b"Name at least one tag" in r.content


def test_tag_pages(alice_client, alice, make_link):
    make_link(alice, "https://example.com/a", tags=["old", "other"])
    old = Tag.objects.get(owner=alice, name="old")
    assert b"#old" in alice_client.get("/tags/").content
    alice_client.post(f"/tags/{old.pk}/rename/", {"name": "new"})
    assert Tag.objects.filter(owner=alice, name="new").exists()
    ids = list(Tag.objects.filter(owner=alice).values_list("pk", flat=True))
    alice_client.post("/tags/merge/", {"sources": ids, "target": "merged"})
    assert list(Tag.objects.filter(owner=alice).values_list("name", flat=True)) == ["merged"]
    alice_client.post(f"/tags/{Tag.objects.get(owner=alice).pk}/delete/")
    assert not Tag.objects.filter(owner=alice).exists()


def test_import_page_upload_and_errors(alice_client, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        r = alice_client.post(
            "/import/", {"file": SimpleUploadedFile("b.html", (FIXTURES / "pinboard.html").read_bytes())}
        )
    assert r.status_code == 302
    job = ImportJob.objects.get(owner=alice)
    assert job.status == "succeeded"
    page = alice_client.get("/import/")
    assert f'data-import-id="{job.pk}"'.encode() in page.content
    r = alice_client.post("/import/", {"file": SimpleUploadedFile("x.png", b"\x89PNG\x00\x00")})
    assert r.status_code == 200 and b"binary" in r.content
    assert ImportJob.objects.count() == 1


def test_export_page_rejects_unknown_format(alice_client):
    assert alice_client.get("/export/?format=xml").status_code == 400


def test_static_assets_are_vendored(alice_client):
    html = alice_client.get("/links/").content.decode()
    assert "/static/vendor/pico/pico.min.css" in html
    assert "https://" not in html.split("<body>")[0]  # nothing loaded from the network in <head>
