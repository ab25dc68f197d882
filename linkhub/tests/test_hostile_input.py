"""Hostile input across the API and the pages: never a 5xx, and nothing stored changes.

Every request here is refused (4xx) or, where the input is odd but valid, accepted; after each
refused one the stored state (links, tags, snapshots, imports, tokens, rules, versions, audit
rows) must be exactly what it was. Runs on PostgreSQL (which refuses NUL in text and overflows on
ids past bigint) and on SQLite.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from linkhub.tests.api_world import BOOKMARKS, World, build_world

# Also in CI's run on the embedded default (SQLite): the same inputs must be refused there too.
pytestmark = [pytest.mark.django_db, pytest.mark.smoke]

MALFORMED_IDS = [
    "abc",
    "0x10",
    "-1",
    "1.5",
    "1e3",
    "99999999999999999999",  # past bigint
    "9" * 19,
    "9" * 400,
    "%20",
    "%EF%BC%91",  # a full-width digit one
    "%D9%A3",  # an Arabic-Indic digit three
    "1%2F2",
    "..%2F1",
    "null",
    "%5B%5D",
    "'1",
    "1;select",
]
NUL_PATHS = ["1%00", "%00", "1%00/"]

API_ID_ROUTES = [
    ("get", "/api/links/{}/"),
    ("patch", "/api/links/{}/"),
    ("put", "/api/links/{}/"),
    ("delete", "/api/links/{}/"),
    ("get", "/api/links/{}/snapshots/"),
    ("post", "/api/links/{}/snapshot/"),
    ("get", "/api/links/{}/suggestions/"),
    ("post", "/api/links/{}/decisions/"),
    ("get", "/api/imports/{}/"),
    ("get", "/api/tags/{}/"),
    ("delete", "/api/tags/{}/"),
    ("get", "/api/snapshots/{}/"),
    ("get", "/api/snapshots/{}/artifacts/page.html"),
    ("get", "/api/mlops/models/{}/"),
    ("post", "/api/mlops/alerts/{}/ack/"),
    ("patch", "/api/mlops/alert-rules/{}/"),
    ("delete", "/api/auth/tokens/{}/"),
]
PAGE_ID_ROUTES = [
    ("get", "/links/{}/"),
    ("get", "/links/{}/edit/"),
    ("post", "/links/{}/delete/"),
    ("post", "/tags/{}/rename/"),
    ("get", "/snapshots/{}/"),
    ("get", "/snapshots/{}/artifacts/page.html"),
    ("get", "/models/{}/"),
    ("get", "/models/training/{}/"),
    ("post", "/account/settings/tokens/{}/revoke/"),
    ("post", "/links/{}/suggestions/accept/"),
]

# Refused: not http(s), or not a URL at all.
HOSTILE_URLS = [
    "javascript:alert(1)",
    "file:///etc/passwd",
    "ftp://example.com/",
    "data:text/html,<script>alert(1)</script>",
    "gopher://127.0.0.1:6379/_FLUSHALL",
    "http://",
    "http:///path",
    "//example.com/",
    "example",
    "",
    "   ",
    "http://exa mple.com/",
    "http://[::1",
    "http://example.com:99999/",
    "http://example.com:-1/",
    "http://" + "a" * 300 + ".com/",
    "https://example.com/" + "a" * 5000,
    "http://.../",
    "http://\udcff.com/",
]
# Saved (the renderer never fetches private addresses), or refused; never a 5xx.
PRIVATE_URLS = [
    "http://127.0.0.1/",
    "http://localhost:8000/admin/",
    "http://[::1]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/",
    "http://192.168.1.1/",
    "http://0x7f000001/",
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://[::ffff:127.0.0.1]/",
    "http://0/",
    "http://example.com/\u202e/evil",  # odd, but a URL
    "https://user:password@example.com/",
    "http://\u00fcber.example/\u00e4",
    "http://xn--/",
]


def _stored_state() -> str:
    """A digest of everything a request could change."""
    from linkhub.accounts.models import ApiToken
    from linkhub.links.models import ImportJob, Link, Tag, TagDecision, TaggedLink
    from mlops.models import AlertEvent, AlertRule, AlertRuleChange, ModelVersion, Suggestion
    from snapshots.models import Artifact, Snapshot, SnapshotArtifact, SnapshotSchedule

    rows = {
        "links": list(
            Link.objects.order_by("pk").values_list(
                "pk", "owner_id", "url", "title", "description", "notes", "is_read", "is_private"
            )
        ),
        "tags": list(Tag.objects.order_by("pk").values_list("pk", "owner_id", "name", "slug")),
        "tagged": list(TaggedLink.objects.order_by("pk").values_list("pk", "tag_id", "content_object_id")),
        "snapshots": list(Snapshot.objects.order_by("pk").values_list("pk", "link_id", "version", "status")),
        "artifacts": list(SnapshotArtifact.objects.order_by("pk").values_list("pk", "snapshot_id", "name")),
        "files": Artifact.objects.count(),
        "schedules": list(SnapshotSchedule.objects.order_by("pk").values_list("pk", "every_days")),
        "imports": list(ImportJob.objects.order_by("pk").values_list("pk", "status", "total")),
        "tokens": list(ApiToken.objects.order_by("pk").values_list("pk", "revoked_at")),
        "rules": list(AlertRule.objects.order_by("pk").values_list("pk", "name", "threshold", "enabled")),
        "rule_changes": AlertRuleChange.objects.count(),
        "events": list(AlertEvent.objects.order_by("pk").values_list("pk", "state")),
        "versions": list(ModelVersion.objects.order_by("pk").values_list("pk", "stage")),
        "suggestions": list(Suggestion.objects.order_by("pk").values_list("pk", "status")),
        "decisions": TagDecision.objects.count(),
    }
    return hashlib.sha256(json.dumps(rows, default=str).encode()).hexdigest()


SENT: list[str] = []  # every request of the module, for the count in the report


@pytest.fixture(scope="module", autouse=True)
def _count_requests():
    yield
    print(f"\nhostile inputs sent: {len(SENT)}")


class Prober:
    """Sends one hostile request, checks its answer, and that a refusal changed nothing."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.count = 0
        self.api = APIClient()
        self.api.credentials(HTTP_AUTHORIZATION=f"Token {world.token}")
        self.anonymous_api = APIClient()
        self.page = Client()
        self.page.force_login(world.alice)

    def send(self, client, method: str, path: str, *, expect=None, **kwargs):
        before = _stored_state()
        response = getattr(client, method)(path, **kwargs)
        self.count += 1
        SENT.append(path)
        where = f"{method.upper()} {path[:120]} -> {response.status_code}"
        assert response.status_code < 500, where
        if expect is not None:
            assert response.status_code in expect, where
        if response.status_code >= 400:
            assert _stored_state() == before, f"{where} changed what was stored"
            if path.startswith("/api/") and response.get("Content-Type", "").startswith("application/json"):
                assert isinstance(response.json(), dict), where
        return response

    def api_json(self, method: str, path: str, body, *, expect=None, client=None):
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        return self.send(
            client or self.api, method, path, data=data, content_type="application/json", expect=expect
        )


@pytest.fixture
def world(settings) -> World:
    settings.SNAPSHOT_ON_SAVE = False
    return build_world()


@pytest.fixture
def probe(world) -> Prober:
    return Prober(world)


def test_malformed_ids_in_api_urls_are_404(probe):
    for bad in MALFORMED_IDS:
        for method, route in API_ID_ROUTES:
            probe.send(probe.api, method, route.format(bad), expect={404})


def test_malformed_ids_in_page_urls_are_404(probe):
    for bad in MALFORMED_IDS:
        for method, route in PAGE_ID_ROUTES:
            probe.send(probe.page, method, route.format(bad), expect={404})


def test_nul_in_a_path_is_400(probe):
    for bad in NUL_PATHS:
        for method, route in (*API_ID_ROUTES[:4], *PAGE_ID_ROUTES[:3]):
            response = probe.send(
                probe.api if route.startswith("/api/") else probe.page,
                method,
                route.format(bad),
                expect={400},
            )
    assert "NUL" in response.content.decode()
    probe.send(probe.api, "get", "/api/snapshots/1/artifacts/page.html%00", expect={400})
    probe.send(probe.page, "get", "/static/%00", expect={400})


def test_malformed_ids_and_nul_in_the_admin_are_never_a_5xx(probe, world):
    """The admin matches object ids with its own <path:...>; it must cope with anything."""
    from django.contrib.auth.models import User

    staff = Client()
    staff.force_login(User.objects.create_superuser("root", "root@example.com", "correct horse battery"))
    models = ("links/link", "links/tag", "links/importjob", "mlops/alertrule", "mlops/modelversion")
    for model in models:
        for bad in ("abc", "99999999999999999999", "-1", "%EF%BC%91", "1.5"):
            # Django's int() reads a full-width digit as the digit: staff may see object 1.
            probe.send(staff, "get", f"/admin/{model}/{bad}/change/", expect={200, 302, 404})
        probe.send(staff, "get", f"/admin/{model}/?q=%00", expect={400})
        probe.send(staff, "get", f"/admin/{model}/?q=" + "x" * 5000, expect={200})
        probe.send(staff, "get", f"/admin/{model}/?o=99&p=-5&e=1", expect={200, 302})
        probe.send(staff, "get", f"/admin/{model}/1%00/change/", expect={400})


def test_unknown_artifact_names_are_404(probe, world):
    sid = world.ids["snapshot"][0]
    for name in ("upload.html", "page.htm", "..%2Fpage.html", "PAGE.HTML", "page.html.bak", "x" * 300):
        probe.send(probe.api, "get", f"/api/snapshots/{sid}/artifacts/{name}", expect={404})
        probe.send(probe.page, "get", f"/snapshots/{sid}/artifacts/{name}", expect={404})


def test_other_users_objects_are_404_on_every_path(probe, world):
    from linkhub.accounts.models import ApiToken
    from linkhub.links.models import Tag
    from snapshots import services as snapshot_services

    bobs_link = world.ids["bobs_link"][0]
    bobs_tag = Tag.objects.get(owner=world.bob).pk
    bobs_snapshot = snapshot_services.snapshot_request(link=_bobs(world), queue=False).pk
    bobs_token = ApiToken.objects.filter(user=world.bob).values_list("pk", flat=True).first()
    for method, path, body in (
        ("get", f"/api/links/{bobs_link}/", None),
        ("patch", f"/api/links/{bobs_link}/", {"title": "mine now"}),
        ("put", f"/api/links/{bobs_link}/", {"url": "https://example.com/mine"}),
        ("delete", f"/api/links/{bobs_link}/", None),
        ("get", f"/api/links/{bobs_link}/snapshots/", None),
        ("post", f"/api/links/{bobs_link}/snapshot/", None),
        ("get", f"/api/links/{bobs_link}/decisions/", None),
        ("get", f"/api/tags/{bobs_tag}/", None),
        ("patch", f"/api/tags/{bobs_tag}/", {"name": "mine"}),
        ("delete", f"/api/tags/{bobs_tag}/", None),
        ("post", "/api/tags/merge/", {"sources": [bobs_tag], "target": "mine"}),
        ("get", f"/api/snapshots/{bobs_snapshot}/", None),
        ("get", f"/api/snapshots/{world.ids['snapshot'][0]}/diff/?other={bobs_snapshot}", None),
        ("post", f"/api/snapshots/{bobs_snapshot}/retry/", None),
        ("put", f"/api/links/{bobs_link}/snapshot-schedule/", {"every_days": 7}),
    ):
        if body is None:
            probe.send(probe.api, method, path, expect={404})
        else:
            probe.api_json(method, path, body, expect={404})
    if bobs_token:
        probe.send(probe.api, "delete", f"/api/auth/tokens/{bobs_token}/", expect={404})
    # Bulk actions skip ids that are not the caller's.
    r = probe.api_json("post", "/api/links/bulk/", {"ids": [bobs_link], "action": "delete"}, expect={200})
    assert r.json() == {"updated": 0}
    for method, path in (
        ("get", f"/links/{bobs_link}/"),
        ("get", f"/links/{bobs_link}/edit/"),
        ("post", f"/links/{bobs_link}/delete/"),
        ("post", f"/links/{bobs_link}/read/"),
        ("post", f"/tags/{bobs_tag}/delete/"),
        ("get", f"/snapshots/{bobs_snapshot}/"),
        ("get", f"/snapshots/{bobs_snapshot}/artifacts/page.html"),
        ("post", f"/links/{bobs_link}/suggestions/accept/"),
    ):
        probe.send(probe.page, method, path, expect={404})


def _bobs(world):
    from linkhub.links.models import Link

    return Link.objects.get(owner=world.bob)


def test_hostile_urls_are_refused_and_private_ones_never_fetched(probe, world):
    for url in HOSTILE_URLS:
        probe.api_json("post", "/api/links/", {"url": url}, expect={400})
        probe.api_json("patch", f"/api/links/{world.ids['link'][0]}/", {"url": url}, expect={400})
        if url.isprintable() or not any(0xD800 <= ord(c) <= 0xDFFF for c in url):  # a form sends UTF-8
            probe.send(probe.page, "post", "/links/new/", data={"url": url}, expect={200})  # the form again
    for url in PRIVATE_URLS:
        # Saving is allowed (the renderer is what refuses to reach them, on every request it
        # makes); never a 5xx.
        probe.api_json("post", "/api/links/", {"url": url}, expect={200, 201, 400})


def test_hostile_field_values_are_400(probe, world):
    link = world.ids["link"][0]
    for body in (
        {"url": None},
        {"url": 12},
        {"url": ["https://example.com/"]},
        {"url": {"$gt": ""}},
        {"url": "https://example.com/t", "tags": "owls"},
        {"url": "https://example.com/t", "tags": [None]},
        {"url": "https://example.com/t", "tags": [{"name": "x"}]},
        {"url": "https://example.com/t", "tags": ["x" * 101]},
        {"url": "https://example.com/t", "tags": ["t"] * 10_001},
        {"url": "https://example.com/t", "title": "x" * 100_000},
        {"url": "https://example.com/t", "is_read": "maybe"},
        {"url": "https://example.com/t", "title": "nul\u0000title"},
        {"url": "https://example.com/\u0000"},
        {"url": "https://example.com/t", "tags": ["a\u0000b"]},
        {"url\u0000": "https://example.com/t"},
    ):
        probe.api_json("post", "/api/links/", body, expect={400})
        probe.api_json("patch", f"/api/links/{link}/", body, expect={400})
    for body in ([], "a string", 12, None, [1, 2], True):
        probe.api_json("post", "/api/links/", body, expect={400})
        probe.api_json("put", f"/api/links/{link}/", body, expect={400})
    for body in (
        {"ids": [99999999999999999999], "action": "delete"},
        {"ids": [-1], "action": "delete"},
        {"ids": ["1; drop"], "action": "delete"},
        {"ids": [], "action": "delete"},
        {"ids": [1], "action": "explode"},
        {"ids": [1], "action": "add_tags", "tags": ["\u0000"]},
    ):
        probe.api_json("post", "/api/links/bulk/", body, expect={400})
    for body in (
        {"sources": [99999999999999999999], "target": "x"},
        {"sources": [world.ids["tag"][0]], "target": "\u0000"},
        {"sources": [world.ids["tag"][0]], "target": ""},
    ):
        probe.api_json("post", "/api/tags/merge/", body, expect={400})
    for body in ({"name": "\u0000"}, {"name": ""}, {"name": "x" * 101}, {"name": None}):
        probe.api_json("patch", f"/api/tags/{world.ids['tag'][0]}/", body, expect={400})
    for body in (
        {"tag": "owls\u0000", "action": "add"},
        {"tag": "owls", "action": "obliterate"},
        {"tag": "", "action": "add"},
        {"tag": "owls", "action": "add", "reason": "\u0000"},
    ):
        probe.api_json("post", f"/api/links/{link}/decisions/", body, expect={400})
    for body in ({"every_days": 99999999999999999999}, {"every_days": -5}, {"every_days": "weekly"}):
        probe.api_json("put", f"/api/links/{link}/snapshot-schedule/", body, expect={400})
    for body in ({"training_consent": "perhaps"}, {}, {"training_consent": None}):
        probe.api_json("put", "/api/account/consent/", body, expect={400})
        probe.api_json("patch", "/api/account/consent/", body, expect={400})


def test_hostile_alert_rules_and_registry_calls_are_400(probe, world):
    rule = world.ids["rule"][0]
    for body in (
        {"name": "r", "metric": "m", "comparison": "lt", "threshold": 1, "window_minutes": 2**40},
        {"name": "r", "metric": "m", "comparison": "lt", "threshold": "1e999"},
        {"name": "r", "metric": "m", "comparison": "lt", "threshold": 1e308 * 10},
        {"name": "r\u0000", "metric": "m", "comparison": "lt", "threshold": 1},
        {"name": "r", "metric": "m", "comparison": "≈", "threshold": 1},
        {"name": "r", "metric": "m", "comparison": "lt", "threshold": 1, "notify_emails": ["not-an-email"]},
        {"name": "r", "metric": "m", "comparison": "lt", "threshold": 1, "notify_webhook": "javascript:x"},
        {"name": "r", "metric": "m", "comparison": "lt", "threshold": 1, "snoozed_until": "9999-99-99"},
    ):
        probe.api_json("post", "/api/mlops/alert-rules/", body, expect={400})
    for body in ({"threshold": "NaN"}, {"window_minutes": 0}, {"window_minutes": 2**63}, {"enabled": "nope"}):
        probe.api_json("patch", f"/api/mlops/alert-rules/{rule}/", body, expect={400})
    number = world.ids["version"][0]
    for body in ({"stage": "heaven", "reason": "x"}, {"stage": "production"}, {"reason": "\u0000"}):
        probe.api_json("post", f"/api/mlops/models/{number}/promote/", body, expect={400})
    probe.api_json("post", f"/api/mlops/models/{number}/rollback/", {"reason": ""}, expect={400})
    probe.api_json("post", "/api/mlops/models/train/", {"design": "\u0000"}, expect={400})
    probe.api_json("post", "/api/mlops/models/train/", {"design": "no-such-design"}, expect={400})


def test_hostile_query_strings_are_4xx(probe, world):
    for query in (
        "q=%00",
        "tag=%00",
        "sort=%00",
        "domain=%00",
        "%00=1",
        "page=%00",
        "q=" + "x" * 501,
        "sort=-id",
        "sort=__class__",
        "is_read=perhaps",
        "page=99999999999999999999",
        "page=-1",
        "page=abc",
        "page_size=99999999999999999999",
        "tag=" + "x" * 10_000,
        "q=%22unbalanced",
        "q=%FF%FE",
        "&".join(f"f{n}=1" for n in range(1001)),
    ):
        probe.send(probe.api, "get", f"/api/links/?{query}", expect={200, 400, 404})
        probe.send(probe.page, "get", f"/links/?{query}", expect={200, 400, 404})
    for path in (
        "/api/tags/?q=%00",
        "/api/export/?format=%00",
        "/api/export/?format=xml",
        "/api/mlops/metrics/?version=%C2%B2",
        "/api/mlops/metrics/?version=99999999999999999999",
        "/api/mlops/metrics/?since=3991-07-20T10:27:25%2B19:48",
        "/api/mlops/metrics/?since=9999-12-31T23:59:59-23:59",
        "/api/mlops/alerts/timings/?since=2026-13-01T00:00:00Z",
        "/api/mlops/alerts/?state=%00",
        f"/api/snapshots/{world.ids['snapshot'][0]}/diff/?other=99999999999999999999",
        f"/api/snapshots/{world.ids['snapshot'][0]}/diff/?other=%C2%B2",
        f"/api/links/{world.ids['link'][0]}/suggestions/?status=%00",
        "/api/links/?format=xml",
        "/tags/?q=%00",
        "/export/?format=%00",
    ):
        client = probe.api if path.startswith("/api/") else probe.page
        probe.send(client, "get", path, expect={200, 400, 404})


def test_over_deep_json_is_400_with_a_message(probe, world):
    deep_list = "[" * 50_000 + "]" * 50_000
    deep_object = '{"a":' * 50_000 + "1" + "}" * 50_000
    just_over = "[" * 65 + "]" * 65
    for body in (
        deep_list,
        deep_object,
        just_over,
        '{"url": "https://example.com/", "tags": ' + deep_list + "}",
    ):
        r = probe.api_json("post", "/api/links/", body, expect={400})
        assert "nested" in r.json()["detail"]
        probe.api_json("patch", f"/api/links/{world.ids['link'][0]}/", body, expect={400})
        probe.api_json("post", "/api/mlops/alert-rules/", body, expect={400})
        probe.api_json("post", "/api/auth/token/", body, expect={400}, client=probe.anonymous_api)
    # Brackets inside strings are text, not nesting.
    probe.api_json("post", "/api/links/", {"url": "https://example.com/b", "title": "[{" * 200}, expect={201})


def test_malformed_json_is_400(probe):
    for body in ('{"url": ', "{'url': 'x'}", '{"url": NaN}', '{"url": Infinity}', "\xff\xfe", "", "nul\x00"):
        probe.api_json("post", "/api/links/", body, expect={400})
    probe.send(
        probe.api, "post", "/api/links/", data=b"\xff\xfe{}", content_type="application/json", expect={400}
    )


def test_oversize_bodies_are_400(probe, world, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    big = "x" * (70 * 1024)
    r = probe.api_json("post", "/api/links/", {"url": "https://example.com/", "notes": big}, expect={400})
    assert "larger than" in r.json()["detail"]
    probe.send(
        probe.api,
        "post",
        "/api/links/",
        data=f"url=https://example.com/&notes={big}",
        content_type="application/x-www-form-urlencoded",
        expect={400},
    )
    probe.send(
        probe.api, "post", "/api/links/", data={"url": "https://example.com/", "notes": big}, expect={400}
    )
    r = probe.send(
        probe.page, "post", "/links/new/", data={"url": "https://example.com/", "notes": big}, expect={400}
    )
    assert b"larger than" in r.content
    many = "&".join(f"f{n}=1" for n in range(1001))
    probe.send(
        probe.api,
        "post",
        "/api/links/",
        data=many,
        content_type="application/x-www-form-urlencoded",
        expect={400},
    )
    probe.send(
        probe.page,
        "post",
        "/links/new/",
        data=many,
        content_type="application/x-www-form-urlencoded",
        expect={400},
    )
    files = {f"file{n}": SimpleUploadedFile(f"f{n}.html", b"<html></html>") for n in range(101)}
    probe.send(probe.api, "post", "/api/imports/", data=files, expect={400})
    probe.send(probe.page, "post", "/import/", data=files, expect={400})


def test_broken_multipart_and_wrong_content_types_are_4xx(probe, world):
    link = world.ids["link"][0]
    broken = (
        ("multipart/form-data", b'--x\r\nContent-Disposition: form-data; name="file"\r\n\r\nno end'),
        ("multipart/form-data; boundary=", b"anything"),
        ("multipart/form-data; boundary=x", b""),
        (
            "multipart/form-data; boundary=x",
            b"--x\r\nContent-Disposition: form-data\r\n\r\n\x00\r\n--x--\r\n",
        ),
        ("multipart/form-data; boundary=" + "b" * 1000, b"--b\r\n"),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="file"; '
            b'filename="../../etc/passwd"\r\nContent-Type: text/html\r\n\r\nnot bookmarks\r\n--x--\r\n',
        ),
    )
    for ctype, body in broken:
        for path in ("/api/imports/", f"/api/links/{link}/snapshots/upload/"):
            probe.send(probe.api, "post", path, data=body, content_type=ctype, expect={400, 415})
        for path in ("/import/", f"/links/{link}/snapshots/upload/"):
            probe.send(probe.page, "post", path, data=body, content_type=ctype, expect={200, 302, 400})
    for ctype in (
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded; charset=bogus",
        "application/json; charset=bogus",
        "image/png",
        "*/*",
    ):
        # An unknown charset is ignored (UTF-8 is assumed) and */* picks the JSON parser, so
        # those two are valid saves of a link Alice has (200).
        valid = ctype.startswith("application/json") or ctype == "*/*"
        probe.send(
            probe.api,
            "post",
            "/api/links/",
            data=b'{"url": "https://example.com/0"}',
            content_type=ctype,
            expect={200} if valid else {400, 415},
        )
        probe.send(
            probe.api, "post", "/api/imports/", data=b'{"file": "x"}', content_type=ctype, expect={400, 415}
        )
    for name, data in (
        ("bookmarks.html", b""),
        ("bookmarks.html", b"\x00\x01\x02" * 1000),
        ("bookmarks.html", b"<html><body>no bookmarks here</body></html>"),
        ("a\x00b.html", BOOKMARKS),  # Django strips what cannot be printed from file names
        ("x" * 2000 + ".html", b"not a bookmark file"),
    ):
        probe.send(
            probe.api,
            "post",
            "/api/imports/",
            data={"file": SimpleUploadedFile(name, data)},
            format="multipart",
            expect={202, 400},
        )
    for data in (b"", b"\x00binary" * 100, b"plain text, not a page"):
        probe.send(
            probe.api,
            "post",
            f"/api/links/{link}/snapshots/upload/",
            data={"file": SimpleUploadedFile("page.html", data)},
            format="multipart",
            expect={400},
        )


def test_nul_in_page_forms_is_400(probe, world):
    link = world.ids["link"][0]
    tag = world.ids["tag"][0]
    for path, data in (
        ("/links/new/", {"url": "https://example.com/\x00"}),
        ("/links/new/", {"url": "https://example.com/n", "tags": "a\x00b"}),
        (f"/links/{link}/edit/", {"url": "https://example.com/0", "title": "\x00"}),
        (f"/tags/{tag}/rename/", {"name": "\x00"}),
        ("/tags/merge/", {"sources": [tag], "target": "\x00"}),
        (f"/links/{link}/suggestions/accept/", {"tag": "owls\x00"}),
        (f"/links/{link}/suggestions/reject/", {"tag": "birds", "reason": "\x00"}),
        ("/links/bulk/", {"ids": [link], "action": "add_tags", "tags": "\x00"}),
        ("/account/settings/tokens/", {"name": "\x00"}),
        (f"/links/{link}/snapshots/schedule/", {"every_days": "7\x00"}),
    ):
        probe.send(probe.page, "post", path, data=data, expect={400})
