"""A user with something of everything the API serves, for tests that sweep the whole API.

Alice owns links with tags, a finished snapshot with artifacts, a failed one, an import job,
suggestions and decisions; she is a model owner, so the registry, drift and alert routes answer
her too (but not a reviewer, who may see every link). Bob owns one link, which Alice must never
see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

BOOKMARKS = b"""<!DOCTYPE NETSCAPE-Bookmark-file-1>
<DL><p>
<DT><A HREF="https://example.org/imported" ADD_DATE="1700000000" TAGS="owls">Imported</A>
</DL><p>
"""


@dataclass
class World:
    alice: User
    bob: User
    token: str
    # Carol revokes tokens in the sweep: her own, never the one Alice's requests carry.
    carol_token: str
    ids: dict[str, list[int]] = field(default_factory=dict)


def build_world() -> World:
    """Create the data (committed: a live server in another thread reads it)."""
    from linkhub.accounts.services import api_token_create, user_signup
    from linkhub.links import services as link_services
    from linkhub.links.models import Tag
    from mlops.models import (
        AlertEvent,
        AlertRule,
        DriftResult,
        DriftRun,
        MetricPoint,
        ModelVersion,
        Stage,
        Suggestion,
        TrainingRun,
    )
    from mlops.services.decisions import decide
    from snapshots import services as snapshot_services
    from snapshots.models import Snapshot, SnapshotArtifact
    from snapshots.storage import artifact_store

    alice = user_signup(username="alice", password="correct horse battery")
    bob = user_signup(username="bob", password="correct horse battery")
    alice.groups.add(Group.objects.get_or_create(name="model owners")[0])
    _, token = api_token_create(user=alice, name="sweep")
    carol = user_signup(username="carol", password="correct horse battery")
    _, carol_token = api_token_create(user=carol, name="sweep")
    spare_tokens = [api_token_create(user=carol, name=f"spare {n}")[0].pk for n in range(3)]

    links = [
        link_services.link_create(
            owner=alice, url=f"https://example.com/{n}", title=f"Page {n}", tags=["owls", f"t{n}"]
        )[0]
        for n in range(3)
    ]
    bobs, _ = link_services.link_create(owner=bob, url="https://example.com/bob", tags=["secret"])

    snap = snapshot_services.snapshot_request(link=links[0], queue=False)
    Snapshot.objects.filter(pk=snap.pk).update(status="succeeded", finished_at=timezone.now())
    for name, data, ctype in (
        ("page.html", b"<html><body><p>archived owls</p></body></html>", "text/html; charset=utf-8"),
        ("screenshot.png", b"\x89PNG\r\n\x1a\nfake", "image/png"),
        ("text.txt", b"archived owls", "text/plain; charset=utf-8"),
    ):
        SnapshotArtifact.objects.create(snapshot=snap, name=name, artifact=artifact_store(data, ctype))
    failed = snapshot_services.snapshot_request(link=links[0], queue=False)
    Snapshot.objects.filter(pk=failed.pk).update(
        status="failed", failure_reason="timeout", finished_at=timezone.now()
    )

    job = link_services.import_start(
        owner=alice, upload=SimpleUploadedFile("bookmarks.html", BOOKMARKS), queue=False
    )

    now = timezone.now()
    version = ModelVersion.objects.create(
        number=1,
        design="test",
        stage=Stage.PRODUCTION,
        artifact_sha256="1" * 64,
        artifact_path="models/test/1.bin",
        format_version=1,
        sklearn_version="test",
        python_version="3.11",
        data_fingerprint="1" * 64,
        metrics={"recall_at_3": 0.5, "precision_at_1": 0.5},
    )
    Suggestion.objects.create(
        link=links[1],
        tag_name="birds",
        tag_key="birds",
        score=0.7,
        model_version=version,
        status=Suggestion.Status.PROPOSED,
        explanation=[["owls", 0.4]],
    )
    decide(link=links[1], tag="t1", action="remove", actor=alice, reason="not this one", source="api")
    run = TrainingRun.objects.create(trigger="manual", status="succeeded", version=version)
    MetricPoint.objects.create(name="acceptance_rate", model_version=version, value=0.8, count=40)
    drift = DriftRun.objects.create(
        trigger="schedule", status="done", reference_version=version, finished_at=now
    )
    DriftResult.objects.create(
        run=drift, feature="domain", kind="categorical", method="chi2", statistic=1.0, threshold=0.05
    )
    rule = AlertRule.objects.create(
        name="acceptance", metric="acceptance_rate", comparison="lt", threshold=0.5, updated_by=alice
    )
    # One open event per rule; a resolved one answers an acknowledgement with a 409.
    events = [
        AlertEvent.objects.create(
            rule=rule,
            message="low",
            observed=0.2,
            breach_started_at=now - timedelta(minutes=5),
            state=state,
            resolved_at=now if state == AlertEvent.State.RESOLVED else None,
        )
        for state in (AlertEvent.State.RESOLVED, AlertEvent.State.FIRING)
    ]
    return World(
        alice=alice,
        bob=bob,
        token=token,
        carol_token=carol_token,
        ids={
            "carols_token": spare_tokens,
            "link": [link.pk for link in links],
            "bobs_link": [bobs.pk],
            "tag": list(Tag.objects.filter(owner=alice).values_list("pk", flat=True)),
            "snapshot": [snap.pk, failed.pk],
            "import": [job.pk],
            "version": [version.number],
            "training": [run.pk],
            "drift": [drift.pk],
            "rule": [rule.pk],
            "alert": [e.pk for e in events],
        },
    )
