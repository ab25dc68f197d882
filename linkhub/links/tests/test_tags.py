"""Per-user tags: counts, case-insensitive matching, rename, merge, delete."""

from __future__ import annotations

import pytest

from linkhub.links.models import Link, Tag, TaggedLink

pytestmark = pytest.mark.django_db


def test_tags_are_per_user_and_case_insensitive(alice, bob, make_link):
    make_link(alice, "https://example.com/1", tags=["Python"])
    make_link(alice, "https://example.com/2", tags=["python", "PYTHON"])
    make_link(bob, "https://example.com/1", tags=["python"])
    assert Tag.objects.filter(owner=alice).count() == 1
    assert Tag.objects.get(owner=alice).name == "Python"  # the first spelling wins
    assert Tag.objects.filter(owner=bob).count() == 1


def test_tag_list_has_counts_and_only_own_tags(alice_api, alice, bob, make_link):
    make_link(alice, "https://example.com/1", tags=["a", "b"])
    make_link(alice, "https://example.com/2", tags=["a"])
    make_link(bob, "https://example.com/3", tags=["bobs-tag"])
    body = alice_api.get("/api/tags/").json()
    assert {t["name"]: t["count"] for t in body["results"]} == {"a": 2, "b": 1}


def test_rename_tag(alice_api, alice, make_link):
    link = make_link(alice, "https://example.com/1", tags=["pyhton"])
    tag = Tag.objects.get(owner=alice)
    r = alice_api.patch(f"/api/tags/{tag.pk}/", {"name": "python"}, format="json")
    assert r.status_code == 200 and r.json()["name"] == "python"
    assert list(link.tags.names()) == ["python"]


def test_rename_onto_existing_name_merges(alice_api, alice, make_link):
    a = make_link(alice, "https://example.com/1", tags=["js"])
    b = make_link(alice, "https://example.com/2", tags=["javascript", "js"])
    js = Tag.objects.get(owner=alice, name="js")
    r = alice_api.patch(f"/api/tags/{js.pk}/", {"name": "JavaScript"}, format="json")
    assert r.status_code == 200
    assert r.json()["name"] == "javascript" and r.json()["count"] == 2
    assert list(a.tags.names()) == ["javascript"]
    assert list(b.tags.names()) == ["javascript"]
    assert not Tag.objects.filter(pk=js.pk).exists()


def test_merge_tags(alice_api, alice, make_link):
    make_link(alice, "https://example.com/1", tags=["ml"])
    make_link(alice, "https://example.com/2", tags=["machine learning", "ml"])
    make_link(alice, "https://example.com/3", tags=["ai"])
    ids = list(Tag.objects.filter(owner=alice).values_list("pk", flat=True))
    r = alice_api.post("/api/tags/merge/", {"sources": ids, "target": "AI"}, format="json")
    assert r.status_code == 200
    assert r.json()["count"] == 3
    assert list(Tag.objects.filter(owner=alice).values_list("name", flat=True)) == ["ai"]
    assert TaggedLink.objects.count() == 3


def test_delete_tag_keeps_links(alice_api, alice, make_link):
    link = make_link(alice, "https://example.com/1", tags=["gone", "stays"])
    tag = Tag.objects.get(owner=alice, name="gone")
    assert alice_api.delete(f"/api/tags/{tag.pk}/").status_code == 204
    assert Link.objects.filter(pk=link.pk).exists()
    assert list(link.tags.names()) == ["stays"]


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_bad_tag_names_are_400(alice_api, alice, make_link, name):
    make_link(alice, "https://example.com/1", tags=["t"])
    tag = Tag.objects.get(owner=alice)
    assert alice_api.patch(f"/api/tags/{tag.pk}/", {"name": name}, format="json").status_code == 400
    tag.refresh_from_db()
    assert tag.name == "t"


def test_tag_search(alice_api, alice, make_link):
    make_link(alice, "https://example.com/1", tags=["python", "rust", "pythonic"])
    names = {t["name"] for t in alice_api.get("/api/tags/?q=PYTH").json()["results"]}
    assert names == {"python", "pythonic"}


def test_untagged_filter(alice_api, alice, make_link):
    make_link(alice, "https://example.com/1", tags=["t"])
    make_link(alice, "https://example.com/2")
    urls = [x["url"] for x in alice_api.get("/api/links/?untagged=true").json()["results"]]
    assert urls == ["https://example.com/2"]


def test_tags_with_commas_and_spaces_are_cleaned(alice, make_link):
    link = make_link(alice, "https://example.com/1", tags=["  two   words ", "", "a,b"])
    assert sorted(link.tags.names()) == ["a b", "two words"]


def test_non_ascii_tags_match_ignoring_case(alice, make_link):
    """SQLite's LOWER() folds only ASCII; tags must still match across case in any script."""
    a = make_link(alice, "https://example.com/1", tags=["Ärger", "Москва", "STRASSE"])
    b = make_link(alice, "https://example.com/2", tags=["ärger", "москва", "straße"])
    assert sorted(a.tags.names()) == sorted(["Ärger", "Москва", "STRASSE"])
    assert sorted(b.tags.names()) == sorted(a.tags.names())
    assert Tag.objects.filter(owner=alice).count() == 3


def test_filter_by_non_ascii_tag_ignores_case(alice_api, alice, make_link):
    make_link(alice, "https://example.com/1", tags=["Ärger"])
    make_link(alice, "https://example.com/2", tags=["other"])
    urls = [x["url"] for x in alice_api.get("/api/links/", {"tag": "ÄRGER"}).json()["results"]]
    assert urls == ["https://example.com/1"]
