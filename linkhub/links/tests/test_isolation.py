"""Alice's objects do not exist for Bob: every path answers 404 and changes nothing."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from linkhub.links.models import ImportJob, Link, Tag

pytestmark = pytest.mark.django_db


@pytest.fixture
def alices(alice, make_link):
    link = make_link(alice, "https://example.com/secret", title="Alice's secret", tags=["private-topic"])
    tag = Tag.objects.get(owner=alice)
    job = ImportJob.objects.create(
        owner=alice, source_name="alice.html", file=SimpleUploadedFile("a.html", b"<DL>"), total=1
    )
    return {"link": link, "tag": tag, "job": job}


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("get", "/api/links/{link}/", None),
        ("patch", "/api/links/{link}/", {"title": "pwned"}),
        ("put", "/api/links/{link}/", {"title": "pwned"}),
        ("delete", "/api/links/{link}/", None),
        ("get", "/api/tags/{tag}/", None),
        ("patch", "/api/tags/{tag}/", {"name": "pwned"}),
        ("delete", "/api/tags/{tag}/", None),
        ("get", "/api/imports/{job}/", None),
    ],
)
def test_api_other_users_objects_are_404(bob_api, alices, method, path, payload):
    url = path.format(link=alices["link"].pk, tag=alices["tag"].pk, job=alices["job"].pk)
    r = getattr(bob_api, method)(url, payload, format="json") if payload else getattr(bob_api, method)(url)
    assert r.status_code == 404, (method, url, r.status_code)
    link = Link.objects.get(pk=alices["link"].pk)
    assert link.title == "Alice's secret"
    assert Tag.objects.get(pk=alices["tag"].pk).name == "private-topic"


@pytest.mark.smoke
def test_api_lists_and_exports_show_only_own_objects(bob_api, alices):
    assert bob_api.get("/api/links/").json()["count"] == 0
    assert bob_api.get("/api/tags/").json()["count"] == 0
    assert bob_api.get("/api/imports/").json()["count"] == 0
    assert bob_api.get("/api/links/?q=secret").json()["count"] == 0
    assert bob_api.get("/api/links/?tag=private-topic").json()["count"] == 0
    body = b"".join(bob_api.get("/api/export/?format=json").streaming_content)
    assert b"example.com/secret" not in body


def test_api_merge_with_other_users_tag_is_404(bob_api, bob, alices, make_link):
    make_link(bob, "https://example.com/b", tags=["mine"])
    mine = Tag.objects.get(owner=bob)
    r = bob_api.post(
        "/api/tags/merge/", {"sources": [mine.pk, alices["tag"].pk], "target": "x"}, format="json"
    )
    assert r.status_code == 404
    assert Tag.objects.filter(pk=alices["tag"].pk).exists()


def test_api_creating_same_url_does_not_reveal_other_users_link(bob_api, alices):
    r = bob_api.post("/api/links/", {"url": "https://example.com/secret"}, format="json")
    assert r.status_code == 201
    assert r.json()["title"] == ""  # nothing of Alice's copy leaks
    assert r.json()["id"] != alices["link"].pk


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/links/{link}/"),
        ("get", "/links/{link}/edit/"),
        ("post", "/links/{link}/edit/"),
        ("get", "/links/{link}/delete/"),
        ("post", "/links/{link}/delete/"),
        ("post", "/links/{link}/read/"),
        ("post", "/tags/{tag}/rename/"),
        ("post", "/tags/{tag}/delete/"),
    ],
)
def test_pages_for_other_users_objects_are_404(client, bob, alices, method, path):
    client.force_login(bob)
    url = path.format(link=alices["link"].pk, tag=alices["tag"].pk)
    r = getattr(client, method)(url, {"name": "pwned", "url": "https://pwned.example/", "title": "pwned"})
    assert r.status_code == 404
    assert Link.objects.get(pk=alices["link"].pk).title == "Alice's secret"
    assert Tag.objects.filter(pk=alices["tag"].pk).exists()


def test_web_bulk_and_merge_ignore_other_users_ids(client, bob, alices):
    client.force_login(bob)
    client.post("/links/bulk/", {"ids": [alices["link"].pk], "action": "delete"})
    assert Link.objects.filter(pk=alices["link"].pk).exists()
    assert client.post("/tags/merge/", {"sources": [alices["tag"].pk], "target": "x"}).status_code == 404
    assert Tag.objects.filter(pk=alices["tag"].pk).exists()


def test_web_lists_show_only_own_objects(client, bob, alices):
    client.force_login(bob)
    for path in ("/links/", "/tags/", "/import/", "/links/?q=secret"):
        r = client.get(path)
        assert r.status_code == 200
        assert b"Alice&#x27;s secret" not in r.content and b"private-topic" not in r.content
    export = b"".join(client.get("/export/?format=netscape").streaming_content)
    assert b"secret" not in export


def test_admin_requires_staff(client, bob):
    client.force_login(bob)
    r = client.get("/admin/links/link/")
    assert r.status_code == 302 and "/admin/login/" in r["Location"]
