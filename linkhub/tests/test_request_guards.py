"""The guards around every request: typed ids, the JSON parser's limits, NUL bytes, PUT versus
PATCH, and a 503 with Retry-After (never a 500) when the database or Redis cannot be reached."""

from __future__ import annotations

import contextlib

import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.urls import NoReverseMatch, reverse

from linkhub.middleware import server_error
from linkhub.parsers import MAX_DEPTH, contains_nul, json_depth_exceeds


def test_ids_reverse_only_within_bigint():
    assert reverse("links:detail", args=[999_999_999_999_999_999]) == "/links/999999999999999999/"
    for bad in (10**18, -1, "abc"):
        with pytest.raises(NoReverseMatch):
            reverse("links:detail", args=[bad])
    with pytest.raises(NoReverseMatch):
        reverse("snapshots:artifact", args=[1, "upload.html"])


@pytest.mark.parametrize(
    ("body", "deep"),
    [
        (b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, False),
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), True),
        (b'{"a": "' + b"[" * 1000 + b'"}', False),  # brackets in a string are text
        (b'{"a": "\\"' + b"[" * 1000 + b'"}', False),  # an escaped quote does not end the string
        (b'["\\\\", ' + b"[" * 100 + b"]" * 100 + b"]", True),  # an escaped backslash does
        (b"{" * 10 + b"}" * 10, False),
    ],
)
def test_json_depth_is_checked_without_recursion(body, deep):
    assert json_depth_exceeds(body) is deep


def test_nul_is_found_anywhere_in_a_document():
    assert not contains_nul({"a": ["b", {"c": 1}], "d": None})
    assert contains_nul({"a": ["b", {"c": "x\x00"}]})
    assert contains_nul({"a\x00": 1})


@pytest.mark.django_db
def test_an_unknown_api_route_is_a_json_404_and_a_page_route_the_apps_page(alice_api, alice):
    r = alice_api.get("/api/no-such-thing/")
    assert r.status_code == 404 and r.json() == {"detail": "Not found."}
    r = alice_api.get("/api/links/99999999999999999999/")
    assert r.status_code == 404 and r.json() == {"detail": "Not found."}
    client = Client()
    client.force_login(alice)
    r = client.get("/links/99999999999999999999/")
    assert r.status_code == 404 and b"Back to your links" in r.content


@pytest.mark.django_db
def test_nul_in_a_query_is_a_400_that_says_why(alice_api):
    r = alice_api.get("/api/links/?q=owls%00")
    assert r.status_code == 400
    assert "NUL" in r.json()["detail"]


@pytest.mark.django_db
def test_put_replaces_the_whole_link_and_patch_only_what_it_sends(alice_api, alice, make_link):
    link = make_link(alice, "https://example.com/a", title="A", notes="keep?", tags=["owls"], is_read=True)
    # A PUT without the required url is refused, and changes nothing.
    r = alice_api.put(f"/api/links/{link.pk}/", {"title": "B"}, format="json")
    assert r.status_code == 400 and "url" in r.json()
    assert alice_api.get(f"/api/links/{link.pk}/").json()["title"] == "A"
    r = alice_api.patch(f"/api/links/{link.pk}/", {"title": "B"}, format="json")
    assert r.status_code == 200
    assert (r.json()["title"], r.json()["notes"], r.json()["tags"]) == ("B", "keep?", ["owls"])
    r = alice_api.put(f"/api/links/{link.pk}/", {"url": "https://example.com/a", "title": "C"}, format="json")
    assert r.status_code == 200
    body = r.json()
    assert (body["title"], body["notes"], body["tags"], body["is_read"]) == ("C", "", [], False)


@contextlib.contextmanager
def database_down():
    """The database refuses connections: its settings point where nothing listens. The real
    failure a request meets when PostgreSQL is down (or SQLite's file cannot be opened)."""
    saved = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = "/nonexistent-linkhub-dir/db.sqlite3"
    else:
        connection.settings_dict["HOST"], connection.settings_dict["PORT"] = "127.0.0.1", "1"
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


def test_the_api_answers_503_with_retry_after_and_stores_nothing_when_the_database_is_down(
    make_user, make_link, transactional_db
):
    from linkhub.accounts.services import api_token_create
    from linkhub.links.models import Link

    alice = make_user("alice")
    make_link(alice, "https://example.com/kept")
    _, key = api_token_create(user=alice, name="t")
    api = Client(HTTP_AUTHORIZATION=f"Token {key}")
    with database_down():
        for method, path, body in (
            ("get", "/api/links/", None),
            ("post", "/api/links/", {"url": "https://example.com/new"}),
            ("patch", "/api/links/1/", {"title": "new"}),
            ("post", "/api/auth/token/", {"username": "alice", "password": "x"}),
        ):
            r = getattr(api, method)(path, body, content_type="application/json")
            assert r.status_code == 503, (path, r.content)
            assert r["Retry-After"] == "30"
            assert "try again" in r.json()["detail"]
    assert list(Link.objects.values_list("url", "title")) == [("https://example.com/kept", "")]


def test_pages_answer_a_plain_503_when_the_database_is_down(make_user, transactional_db):
    client = Client()
    client.force_login(make_user("alice"))
    with database_down():
        r = client.get("/links/")
    assert r.status_code == 503
    assert r["Retry-After"] == "30"
    assert r["Content-Type"].startswith("text/html") and b"unavailable" in r.content


def test_a_throttle_whose_redis_is_down_is_a_503(db, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        }
    }
    r = Client().post(
        "/api/auth/token/", {"username": "alice", "password": "x"}, content_type="application/json"
    )
    assert r.status_code == 503
    assert r["Retry-After"] == "30" and "detail" in r.json()


def test_an_outage_outside_any_view_is_still_a_503(rf):
    """What fails after the view (the session saved by its middleware) reaches the 500 handler."""
    for path, ctype in (("/api/links/", "application/json"), ("/links/", "text/html")):
        try:
            raise OperationalError("connection refused")
        except OperationalError:
            r = server_error(rf.get(path))
        assert r.status_code == 503 and r["Retry-After"] == "30"
        assert r["Content-Type"].startswith(ctype)
    r = server_error(rf.get("/api/links/"))  # not an outage: a plain 500
    assert r.status_code == 500 and r["Content-Type"] == "application/json"
