"""manage.py snapshot URL_OR_LINK_ID --user NAME --wait"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from linkhub.links.models import Link
from snapshots.models import Snapshot

pytestmark = [pytest.mark.django_db, pytest.mark.browser, pytest.mark.snapshots]


def test_snapshot_a_url_and_wait(fixture_site, alice):
    out = StringIO()
    call_command("snapshot", fixture_site("/article"), "--user", "alice", "--wait", stdout=out)
    text = out.getvalue()
    assert "Status: captured" in text
    for name in ("screenshot.png", "page.pdf", "page.html", "text.txt", "thumbnail.png"):
        assert name in text
    assert "/artifacts/" in text  # where each file is
    link = Link.objects.get(owner=alice)
    assert [s.status for s in Snapshot.objects.filter(link=link)] == ["succeeded"]  # no second, queued one


def test_snapshot_a_link_id_and_failures(fixture_site, alice, make_link):
    link = make_link(alice, fixture_site("/status/404"))
    with pytest.raises(CommandError, match="404"):
        call_command("snapshot", str(link.pk), "--user", "alice", "--wait", stdout=StringIO())
    with pytest.raises(CommandError, match="no link"):
        call_command("snapshot", "999999", "--user", "alice", stdout=StringIO())
    with pytest.raises(CommandError, match="No user"):
        call_command("snapshot", "1", "--user", "nobody", stdout=StringIO())
    with pytest.raises(CommandError, match="http and https"):
        call_command("snapshot", "ftp://example.com/", "--user", "alice", stdout=StringIO())


def test_snapshot_without_wait_queues_exactly_one_version(alice, settings, monkeypatch):
    from snapshots import services

    settings.SNAPSHOT_ON_SAVE = True
    queued = []
    monkeypatch.setattr(services, "_queue", lambda snapshot_id, countdown=None: queued.append(snapshot_id))
    out = StringIO()
    call_command("snapshot", "https://example.com/one", "--user", "alice", stdout=out)
    link = Link.objects.get(owner=alice)
    versions = list(Snapshot.objects.filter(link=link).values_list("version", "source", "status"))
    assert versions == [(1, "manual", "pending")]
    assert "Queued snapshot" in out.getvalue()
