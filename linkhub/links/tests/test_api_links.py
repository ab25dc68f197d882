"""The links API: create, dedup, validation, list filters, search, update, delete, bulk."""

from __future__ import annotations

import pytest

from linkhub.links.models import Link, TagOrigin

pytestmark = pytest.mark.django_db


@pytest.mark.smoke
def test_create_link_returns_201_with_normalised_url_and_tags(alice_api):
    r = alice_api.post(
        "/api/links/",
        {
            "url": "HTTPS://Example.COM:443/a/./b?utm_source=x&z=1#top",
            "title": "Example",
            "tags": ["Read", "python"],
        },
        format="json",
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["url"] == "https://example.com/a/b?z=1"
    assert body["domain"] == "example.com"
    assert sorted(body["tags"], key=str.lower) == ["python", "Read"]
    assert all(t["origin"] == TagOrigin.USER for t in body["tag_details"])


@pytest.mark.smoke
def test_same_url_twice_returns_existing_link_and_adds_tags(alice_api):
    first = alice_api.post("/api/links/", {"url": "https://example.com/x", "tags": ["a"]}, format="json")
    again = alice_api.post(
        "/api/links/", {"url": "https://EXAMPLE.com/x#frag", "title": "T", "tags": ["A", "b"]}, format="json"
    )
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert sorted(again.json()["tags"]) == ["a", "b"]
    assert again.json()["title"] == "T"  # an empty title is filled, never overwritten
    assert Link.objects.count() == 1


def test_same_url_for_two_users_is_two_links(alice_api, bob_api):
    a = alice_api.post("/api/links/", {"url": "https://example.com/"}, format="json")
    b = bob_api.post("/api/links/", {"url": "https://example.com/"}, format="json")
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "ftp://example.com/file"}, "url"),
        ({"url": "file:///etc/passwd"}, "url"),
        ({"url": "data:text/html,<script>alert(1)</script>"}, "url"),
        ({"url": "http://"}, "url"),
        ({"url": "http://exa mple.com/"}, "url"),
        ({"url": "http://example.com:99999/"}, "url"),
        ({"url": "https://user:secret@example.com/"}, "url"),
        ({"url": "https://example.com/" + "a" * 3000}, "url"),
        ({"url": ""}, "url"),
        ({}, "url"),
        ({"url": 12345}, "url"),
        ({"url": ["https://example.com/"]}, "url"),
        ({"url": "https://example.com/", "title": "t" * 600}, "title"),
        ({"url": "https://example.com/", "description": "d" * 10_001}, "description"),
        ({"url": "https://example.com/", "tags": "not-a-list"}, "tags"),
        ({"url": "https://example.com/", "tags": ["x" * 101]}, "tags"),
        ({"url": "https://example.com/", "tags": [{"name": "x"}]}, "tags"),
        ({"url": "https://example.com/", "is_read": "maybe"}, "is_read"),
    ],
)
def test_bad_input_is_a_400_with_field_errors(alice_api, payload, field):
    r = alice_api.post("/api/links/", payload, format="json")
    assert r.status_code == 400, r.content
    assert field in r.json()
    assert Link.objects.count() == 0


def test_malformed_json_is_a_400(alice_api):
    r = alice_api.generic("POST", "/api/links/", "{not json", content_type="application/json")
    assert r.status_code == 400
    assert "detail" in r.json()


def test_unauthenticated_requests_are_refused(client):
    assert client.get("/api/links/").status_code in (401, 403)


@pytest.mark.smoke
def test_list_filters_by_tags_with_and(alice_api, alice, make_link):
    make_link(alice, "https://a.example/", tags=["python", "web"])
    make_link(alice, "https://b.example/", tags=["python"])
    make_link(alice, "https://c.example/", tags=["web"])
    r = alice_api.get("/api/links/?tag=python&tag=WEB")
    assert r.status_code == 200
    assert [x["url"] for x in r.json()["results"]] == ["https://a.example/"]
    assert r.json()["count"] == 1
    only_python = alice_api.get("/api/links/?tag=python").json()
    assert {x["url"] for x in only_python["results"]} == {"https://a.example/", "https://b.example/"}


def test_list_is_paginated(alice_api, alice, make_link):
    for i in range(7):
        make_link(alice, f"https://example.com/{i}")
    body = alice_api.get("/api/links/?page_size=3&page=2").json()
    assert body["count"] == 7
    assert len(body["results"]) == 3
    assert body["next"] and body["previous"]
    assert alice_api.get("/api/links/?page=99").status_code == 404


@pytest.mark.smoke
def test_search_finds_title_description_and_url_words(alice_api, alice, make_link):
    make_link(alice, "https://docs.python.org/3/library/asyncio.html", title="asyncio — Asynchronous I/O")
    make_link(alice, "https://example.com/cooking", title="Pasta", description="A recipe with garlic")
    make_link(alice, "https://example.org/misc", title="Unrelated")

    def urls(q):
        r = alice_api.get("/api/links/", {"q": q})
        assert r.status_code == 200
        return {x["url"] for x in r.json()["results"]}

    assert urls("asyncio") == {"https://docs.python.org/3/library/asyncio.html"}
    assert urls("garlic") == {"https://example.com/cooking"}
    assert urls("python") == {"https://docs.python.org/3/library/asyncio.html"}
    assert urls("cooking") == {"https://example.com/cooking"}
    assert urls("nothing-matches-this") == set()
    assert urls("pasta -garlic") == set()


def test_search_covers_snapshot_text(alice_api, alice, make_link):
    from linkhub.links.services import link_search_refresh

    link = make_link(alice, "https://example.com/page", title="Page")
    Link.objects.filter(pk=link.pk).update(content_text="the quick brown fox jumps over the lazy dog")
    link_search_refresh(link_ids=[link.pk])
    r = alice_api.get("/api/links/", {"q": "lazy fox"})
    assert [x["id"] for x in r.json()["results"]] == [link.pk]


def test_sort_options_and_bad_sort(alice_api, alice, make_link):
    make_link(alice, "https://example.com/1", title="b")
    make_link(alice, "https://example.com/2", title="a")
    titles = [x["title"] for x in alice_api.get("/api/links/?sort=title").json()["results"]]
    assert titles == ["a", "b"]
    assert [x["title"] for x in alice_api.get("/api/links/?sort=oldest").json()["results"]] == ["b", "a"]
    assert alice_api.get("/api/links/?sort=drop table").status_code == 400


def test_read_filter_and_mark_read(alice_api, alice, make_link):
    link = make_link(alice, "https://example.com/1")
    make_link(alice, "https://example.com/2")
    r = alice_api.patch(f"/api/links/{link.pk}/", {"is_read": True}, format="json")
    assert r.status_code == 200 and r.json()["is_read"] is True
    unread = alice_api.get("/api/links/?is_read=false").json()["results"]
    assert [x["url"] for x in unread] == ["https://example.com/2"]
    assert alice_api.get("/api/links/?is_read=perhaps").status_code == 400


def test_patch_updates_fields_and_replaces_tags(alice_api, alice, make_link):
    link = make_link(alice, "https://example.com/1", tags=["old", "keep"])
    r = alice_api.patch(
        f"/api/links/{link.pk}/",
        {"title": "New", "notes": "mine", "tags": ["keep", "new"]},
        format="json",
    )
    assert r.status_code == 200
    assert r.json()["title"] == "New"
    assert sorted(r.json()["tags"]) == ["keep", "new"]


def test_patch_to_a_url_already_saved_is_a_400_and_changes_nothing(alice_api, alice, make_link):
    make_link(alice, "https://example.com/1")
    second = make_link(alice, "https://example.com/2", title="two")
    r = alice_api.patch(
        f"/api/links/{second.pk}/", {"url": "https://example.com/1", "title": "x"}, format="json"
    )
    assert r.status_code == 400
    assert "url" in r.json()
    second.refresh_from_db()
    assert (second.url, second.title) == ("https://example.com/2", "two")


def test_delete_link(alice_api, alice, make_link):
    link = make_link(alice, "https://example.com/1")
    assert alice_api.delete(f"/api/links/{link.pk}/").status_code == 204
    assert not Link.objects.filter(pk=link.pk).exists()
    assert alice_api.get(f"/api/links/{link.pk}/").status_code == 404


def test_bulk_add_remove_tags_and_mark_read(alice_api, alice, make_link):
    a = make_link(alice, "https://example.com/a", tags=["x"])
    b = make_link(alice, "https://example.com/b")
    r = alice_api.post(
        "/api/links/bulk/", {"ids": [a.pk, b.pk], "action": "add_tags", "tags": ["new"]}, format="json"
    )
    assert r.status_code == 200 and r.json() == {"updated": 2}
    assert set(b.tags.names()) == {"new"}
    alice_api.post("/api/links/bulk/", {"ids": [a.pk], "action": "remove_tags", "tags": ["X"]}, format="json")
    assert set(a.tags.names()) == {"new"}
    alice_api.post("/api/links/bulk/", {"ids": [a.pk, b.pk], "action": "mark_read"}, format="json")
    assert Link.objects.filter(is_read=True).count() == 2
    bad = alice_api.post("/api/links/bulk/", {"ids": [a.pk], "action": "explode"}, format="json")
    assert bad.status_code == 400


def test_bulk_ignores_other_users_links(alice_api, bob, make_link):
    bobs = make_link(bob, "https://example.com/bob")
    r = alice_api.post("/api/links/bulk/", {"ids": [bobs.pk], "action": "delete"}, format="json")
    assert r.status_code == 200 and r.json() == {"updated": 0}
    assert Link.objects.filter(pk=bobs.pk).exists()
