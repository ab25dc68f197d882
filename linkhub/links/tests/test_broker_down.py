"""Saving links while the broker (Redis) is away: what is stored stays stored, nothing crashes,
and the work is queued later by the sweeps."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings

from linkhub.links.models import Link
from snapshots.models import Snapshot
from snapshots.tests.worker_fixture import _database_url

BOOKMARKS = """<!DOCTYPE NETSCAPE-Bookmark-file-1>
<DL><p>
<DT><A HREF="https://example.com/owls" TAGS="birds">Owls</A>
<DT><A HREF="https://example.com/bees">Bees</A>
<DT><A HREF="https://example.org/ants">Ants</A>
</DL><p>
"""


def _manage(*args: str, tmp_path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=_database_url(),
        REDIS_URL="redis://127.0.0.1:1/0",  # nothing listens there: the broker is down
        LINKHUB_VAR_DIR=str(settings.VAR_DIR),
        MEDIA_ROOT=str(tmp_path / "media"),
        SNAPSHOT_ON_SAVE="true",
    )
    return subprocess.run(  # noqa: S603 - this interpreter, our own manage.py
        [sys.executable, "manage.py", *args],
        env=env,
        cwd=str(settings.BASE_DIR),
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_import_command_with_the_broker_down_imports_everything_and_says_so(alice, tmp_path):
    path = tmp_path / "bookmarks.html"
    path.write_text(BOOKMARKS)
    result = _manage("import_bookmarks", str(path), "--user", "alice", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "3 new, 0 already saved, 0 skipped." in result.stdout
    assert "did not answer" in result.stdout and "sweep" in result.stdout
    links = Link.objects.filter(owner=alice)
    assert links.count() == 3
    # Each new link's first snapshot is stored, PENDING, for the sweep to queue.
    assert sorted(Snapshot.objects.filter(link__in=links).values_list("status", flat=True)) == ["pending"] * 3


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_queued_import_with_the_broker_down_is_stored_for_the_sweep(alice, tmp_path):
    path = tmp_path / "bookmarks.html"
    path.write_text(BOOKMARKS)
    result = _manage("import_bookmarks", str(path), "--user", "alice", "--queue", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Stored import" in result.stdout and "did not answer" in result.stdout
    assert alice.import_jobs.get().status == "pending"
