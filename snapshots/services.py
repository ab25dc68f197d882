"""Every write to snapshots: request, claim, complete, fail and retry, upload, schedules, sweep."""

from __future__ import annotations

import functools
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from linkhub import metrics
from linkhub.celery import queue_depths
from linkhub.links.models import Link
from linkhub.links.services import link_content_set
from linkhub.queueing import enqueue

from .capture import Capture
from .models import TRANSIENT_REASONS, Artifact, FailureReason, Snapshot, SnapshotArtifact, SnapshotSchedule
from .selectors import snapshot_latest_good, snapshot_text
from .signals import snapshot_finished
from .storage import artifact_store

logger = logging.getLogger(__name__)

RENDER_TASK = "snapshots.tasks.render_snapshot"
CLAIM_EARLY_SECONDS = 5  # a retry's task may arrive this much before its not_before


def _queue(snapshot_id: int, countdown: float | None = None) -> bool:
    """Queue a render; False when the broker is away (the sweep queues the PENDING row later)."""
    return enqueue(RENDER_TASK, snapshot_id, countdown=countdown)


@transaction.atomic
def snapshot_request(
    *, link: Link, source: str = Snapshot.Source.SAVE, actor: User | None = None, queue: bool = True
) -> Snapshot:
    """Add a PENDING version for the link and queue its render once the transaction commits
    (``queue=False``: the caller renders it itself, as ``manage.py snapshot --wait`` does)."""
    Link.objects.select_for_update().filter(pk=link.pk).first()  # serialise version numbers
    last = Snapshot.objects.filter(link=link).aggregate(v=Max("version"))["v"] or 0
    snapshot = Snapshot.objects.create(
        link=link,
        version=last + 1,
        source=source,
        requested_by=actor,
        url=link.url,
        max_attempts=settings.SNAPSHOT_MAX_ATTEMPTS,
    )
    if queue:
        transaction.on_commit(functools.partial(_queue, snapshot.pk))
    return snapshot


def snapshots_request_for_new_links(*, link_ids: list[int], capture: bool = True) -> None:
    """Called when links are saved (one by one or by an import); ``capture`` off: the caller
    takes the first snapshot itself."""
    if not (capture and settings.SNAPSHOT_ON_SAVE):
        return
    for link in Link.objects.filter(pk__in=link_ids):
        snapshot_request(link=link, source=Snapshot.Source.SAVE)


@transaction.atomic
def snapshot_retry(*, snapshot: Snapshot, actor: User) -> Snapshot:
    """Try a failed snapshot again, now: the same version, its earlier failure kept in provenance."""
    snapshot = Snapshot.objects.select_for_update().get(pk=snapshot.pk)
    if snapshot.status != Snapshot.Status.FAILED:
        raise ValidationError({"detail": "Only a failed snapshot can be retried."})
    history = snapshot.provenance.get("earlier_failures", [])
    history.append(
        {
            "reason": snapshot.failure_reason,
            "detail": snapshot.failure_detail,
            "finished_at": snapshot.finished_at.isoformat() if snapshot.finished_at else None,
            "attempts": snapshot.attempts,
        }
    )
    snapshot.provenance = {"earlier_failures": history}
    snapshot.status = Snapshot.Status.PENDING
    snapshot.failure_reason = snapshot.failure_detail = snapshot.suspect_reason = ""
    snapshot.attempts = 0
    snapshot.not_before = snapshot.requested_at = timezone.now()
    snapshot.started_at = snapshot.finished_at = snapshot.heartbeat_at = None
    snapshot.requested_by = actor
    snapshot.save(
        update_fields=[
            "provenance",
            "status",
            "failure_reason",
            "failure_detail",
            "suspect_reason",
            "attempts",
            "not_before",
            "requested_at",
            "started_at",
            "finished_at",
            "heartbeat_at",
            "requested_by",
        ]
    )
    transaction.on_commit(functools.partial(_queue, snapshot.pk))
    return snapshot


@transaction.atomic
def snapshot_upload(*, link: Link, actor: User, upload: UploadedFile) -> Snapshot:
    """A client-side capture (an HTML file, such as a SingleFile save) as a new version."""
    limit = settings.SNAPSHOT_UPLOAD_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        raise ValidationError({"file": f"The file is {upload.size:,} bytes; the limit is {limit:,} bytes."})
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ValidationError({"file": f"The file is larger than the limit of {limit:,} bytes."})
    if not data.strip():
        raise ValidationError({"file": "The file is empty."})
    if b"\x00" in data[:8192]:
        raise ValidationError({"file": "This is not an HTML file (it looks like binary data)."})
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    head = text[:65536].lower()
    if "<html" not in head and "<body" not in head and "<!doctype html" not in head and "<div" not in head:
        raise ValidationError(
            {"file": "This does not look like an HTML page. Upload the .html file you saved."}
        )
    snapshot = snapshot_request(link=link, source=Snapshot.Source.UPLOAD, actor=actor)
    SnapshotArtifact.objects.create(
        snapshot=snapshot,
        name=SnapshotArtifact.Name.UPLOAD,
        artifact=artifact_store(text.encode("utf-8"), "text/html; charset=utf-8"),
    )
    return snapshot


# --- the worker's side ------------------------------------------------------------------------


def snapshot_claim(*, snapshot_id: int, worker: str) -> Snapshot | None:
    """Take the row for this worker with a conditional UPDATE; None if it is not ours to run.

    A RUNNING row whose heartbeat is older than the lease belongs to a worker that died, and is
    taken over (the attempt counts)."""
    now = timezone.now()
    lease = timedelta(seconds=settings.SNAPSHOT_LEASE_SECONDS)
    early = timedelta(seconds=CLAIM_EARLY_SECONDS)  # clocks of workers and database differ a little
    claimed = (
        Snapshot.objects.filter(pk=snapshot_id)
        .filter(
            Q(status=Snapshot.Status.PENDING, not_before__lte=now + early)
            | Q(
                status=Snapshot.Status.RUNNING,
                heartbeat_at__lt=now - lease,
                attempts__lt=F("max_attempts"),
            )
        )
        .update(
            status=Snapshot.Status.RUNNING,
            attempts=F("attempts") + 1,
            started_at=now,
            heartbeat_at=now,
            worker=worker[:200],
        )
    )
    if not claimed:
        return None
    return Snapshot.objects.select_related("link").get(pk=snapshot_id)


def snapshot_due_now(*, snapshot_id: int) -> None:
    """Skip the backoff of a PENDING row (``manage.py snapshot --wait`` retries in place)."""
    Snapshot.objects.filter(pk=snapshot_id, status=Snapshot.Status.PENDING).update(not_before=timezone.now())


def snapshot_heartbeat(*, snapshot_id: int) -> None:
    Snapshot.objects.filter(pk=snapshot_id, status=Snapshot.Status.RUNNING).update(
        heartbeat_at=timezone.now()
    )


def retry_delay(attempt: int) -> float:
    """Exponential backoff with jitter: base * 2^(attempt-1), times a random 0.5 to 1.5, at most
    an hour and never past the broker's visibility timeout (a countdown longer than that would
    be delivered twice by Redis)."""
    base = settings.SNAPSHOT_RETRY_BASE_SECONDS * (2 ** max(0, attempt - 1))
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    cap = max(1.0, min(3600.0, visibility - 60.0))
    return min(base * random.uniform(0.5, 1.5), cap)


@dataclass
class Outcome:
    status: str
    retry_in: float | None = None


@transaction.atomic
def snapshot_fail(*, snapshot_id: int, reason: str, detail: str, provenance: dict | None = None) -> Outcome:
    """Record a failed attempt. Transient reasons go back to PENDING with a backoff while tries
    remain; everything else, and the last try, ends FAILED with a reason a person can read."""
    snapshot = Snapshot.objects.select_for_update().get(pk=snapshot_id)
    if snapshot.is_finished:
        return Outcome(snapshot.status)
    now = timezone.now()
    attempt_log = {
        "attempt": snapshot.attempts,
        "reason": reason,
        "detail": detail[:500],
        "at": now.isoformat(),
    }
    merged = {**snapshot.provenance, **(provenance or {})}
    merged["attempts_log"] = [*snapshot.provenance.get("attempts_log", []), attempt_log]
    snapshot.provenance = merged
    snapshot.failure_reason, snapshot.failure_detail = reason, detail[:2000]
    failed_fields = ["provenance", "failure_reason", "failure_detail", "status"]
    if reason in TRANSIENT_REASONS and snapshot.attempts < snapshot.max_attempts:
        delay = retry_delay(snapshot.attempts)
        snapshot.status = Snapshot.Status.PENDING
        snapshot.not_before = now + timedelta(seconds=delay)
        snapshot.heartbeat_at = None
        snapshot.save(update_fields=[*failed_fields, "not_before", "heartbeat_at"])
        logger.info(
            "snapshot %s attempt %s failed (%s), retry in %.0fs",
            snapshot_id,
            snapshot.attempts,
            reason,
            delay,
        )
        return Outcome(snapshot.status, retry_in=delay)
    snapshot.status = Snapshot.Status.FAILED
    snapshot.finished_at = now
    snapshot.save(update_fields=[*failed_fields, "finished_at"])
    _announce(snapshot)
    metrics.snapshot_ended(outcome="suspect" if reason == FailureReason.SUSPECT else "failed", reason=reason)
    logger.info("snapshot %s failed for good after %s attempt(s): %s", snapshot_id, snapshot.attempts, reason)
    return Outcome(snapshot.status)


def _http_url(value: str) -> str:
    return value if value.startswith(("http://", "https://")) and len(value) <= 2048 else ""


def snapshot_complete(
    *, snapshot_id: int, capture: Capture, provenance: dict, suspect_reason: str = ""
) -> Outcome:
    """Store the artifacts and metadata of a finished render.

    The files are written first, before the row is locked, so slow storage (S3, a large
    archive) never holds the lock; the locked part writes rows only. Files written for a row
    that turns out to be finished already are used by no snapshot, and the hourly garbage
    collection deletes them. A suspect capture keeps its artifacts (a person may want to see
    what came back), counts as a failed attempt, and is never used for search or tags."""
    started = timezone.now()
    stored = _artifacts_store(capture)
    return _snapshot_complete_rows(
        snapshot_id=snapshot_id,
        capture=capture,
        provenance=provenance,
        suspect_reason=suspect_reason,
        stored=stored,
        started=started,
    )


@dataclass(frozen=True)
class _StoredFile:
    name: str
    data: bytes
    content_type: str
    artifact: Artifact


def _capture_files(capture: Capture) -> list[tuple[str, bytes | None, str]]:
    """(artifact name, bytes or None, content type) of everything a capture may hold."""
    return [
        (SnapshotArtifact.Name.SCREENSHOT, capture.screenshot, "image/png"),
        (SnapshotArtifact.Name.THUMBNAIL, capture.thumbnail, "image/png"),
        (SnapshotArtifact.Name.PDF, capture.pdf, "application/pdf"),
        (
            SnapshotArtifact.Name.HTML,
            capture.html.encode("utf-8") if capture.html else None,
            "text/html; charset=utf-8",
        ),
        (
            SnapshotArtifact.Name.TEXT,
            capture.text.encode("utf-8") if capture.text else None,
            "text/plain; charset=utf-8",
        ),
        (
            SnapshotArtifact.Name.ORIGINAL,
            capture.original,
            capture.original_type or "application/octet-stream",
        ),
        (SnapshotArtifact.Name.FAVICON, capture.favicon, capture.favicon_type or "image/x-icon"),
    ]


def _artifacts_store(capture: Capture) -> list[_StoredFile]:
    """Write the capture's files to storage (content-addressed: bytes stored before are reused)."""
    return [
        _StoredFile(name, data, ctype, artifact_store(data, ctype))
        for name, data, ctype in _capture_files(capture)
        if data
    ]


def _artifacts_attach(*, snapshot: Snapshot, stored: list[_StoredFile]) -> int:
    """Point the snapshot's artifact rows at the stored files; the bytes stored.

    Their Artifact rows are locked until the transaction commits, as artifact_store locks them
    inside one, because the garbage collection skips locked rows. A reused Artifact that had no
    snapshot for a day may have been collected while the files were written: it is stored again.
    The locks are taken in id order, so two workers sharing a file cannot deadlock."""
    kept = set(
        Artifact.objects.select_for_update()
        .filter(pk__in=[f.artifact.pk for f in stored])
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for f in stored:
        artifact = f.artifact if f.artifact.pk in kept else artifact_store(f.data, f.content_type)
        SnapshotArtifact.objects.update_or_create(
            snapshot=snapshot, name=f.name, defaults={"artifact": artifact}
        )
    return sum(len(f.data) for f in stored)


@transaction.atomic
def _snapshot_complete_rows(
    *,
    snapshot_id: int,
    capture: Capture,
    provenance: dict,
    suspect_reason: str,
    stored: list[_StoredFile],
    started: datetime,
) -> Outcome:
    """The locked part of snapshot_complete: rows only, the files are stored already."""
    snapshot = Snapshot.objects.select_for_update().select_related("link").get(pk=snapshot_id)
    if snapshot.is_finished:
        return Outcome(snapshot.status)
    stored_bytes = _artifacts_attach(snapshot=snapshot, stored=stored)
    provenance = {**snapshot.provenance, **provenance}
    provenance.setdefault("timings", {})["store"] = round((timezone.now() - started).total_seconds(), 3)
    provenance.setdefault("bytes", {})["stored"] = stored_bytes
    snapshot.provenance = provenance
    snapshot.final_url = _http_url(capture.final_url)
    snapshot.redirect_chain = capture.redirect_chain or []
    snapshot.http_status = capture.http_status
    snapshot.content_type = capture.content_type[:100]
    snapshot.title = capture.meta.title[:1000]
    snapshot.description = capture.meta.description[:10_000]
    snapshot.language = capture.meta.language[:20]
    snapshot.canonical_url = _http_url(capture.meta.canonical_url)
    snapshot.favicon_url = _http_url(capture.meta.favicon_url)
    snapshot.preview_image_url = _http_url(capture.meta.preview_image_url)
    snapshot.text_length = len(capture.text)
    snapshot.suspect_reason = suspect_reason
    snapshot.save(
        update_fields=[
            "provenance",
            "final_url",
            "redirect_chain",
            "http_status",
            "content_type",
            "title",
            "description",
            "language",
            "canonical_url",
            "favicon_url",
            "preview_image_url",
            "text_length",
            "suspect_reason",
        ]
    )
    if suspect_reason:
        return snapshot_fail(snapshot_id=snapshot_id, reason=FailureReason.SUSPECT, detail=suspect_reason)
    snapshot.status = Snapshot.Status.SUCCEEDED
    snapshot.failure_reason = snapshot.failure_detail = ""
    snapshot.finished_at = timezone.now()
    snapshot.save(update_fields=["status", "failure_reason", "failure_detail", "finished_at"])
    metrics.snapshot_ended(outcome="succeeded", timings=provenance.get("timings"))
    _link_content_refresh(link=snapshot.link)
    _announce(snapshot)
    return Outcome(snapshot.status)


def _announce(snapshot: Snapshot) -> None:
    snapshot_finished.send(
        sender=Snapshot,
        snapshot_id=snapshot.pk,
        link_id=snapshot.link_id,
        status=snapshot.status,
        version=snapshot.version,
    )


def _link_content_refresh(*, link: Link) -> None:
    """The link's searchable text is that of its newest good snapshot."""
    latest = snapshot_latest_good(link=link)
    link_content_set(
        link_id=link.pk,
        text=snapshot_text(latest) if latest else "",
        title=latest.title if latest else "",
        description=latest.description if latest else "",
    )


# --- schedules and the sweep ------------------------------------------------------------------


@transaction.atomic
def snapshot_schedule_set(*, link: Link, every_days: int | None) -> SnapshotSchedule | None:
    if not every_days:
        SnapshotSchedule.objects.filter(link=link).delete()
        return None
    if not 1 <= every_days <= 3650:
        raise ValidationError({"every_days": "Choose between 1 and 3650 days."})
    schedule, _ = SnapshotSchedule.objects.update_or_create(
        link=link,
        defaults={"every_days": every_days, "next_at": timezone.now() + timedelta(days=every_days)},
    )
    return schedule


def snapshot_schedules_run() -> int:
    """Queue a new version for every link whose schedule is due."""
    now = timezone.now()
    count = 0
    for schedule in SnapshotSchedule.objects.filter(next_at__lte=now).select_related("link")[:500]:
        with transaction.atomic():
            moved = SnapshotSchedule.objects.filter(pk=schedule.pk, next_at=schedule.next_at).update(
                next_at=now + timedelta(days=schedule.every_days)
            )
            if moved:  # another beat run did not take it first
                snapshot_request(link=schedule.link, source=Snapshot.Source.SCHEDULE)
                count += 1
    return count


def snapshots_sweep() -> dict[str, int]:
    """Nothing stays RUNNING or PENDING forever.

    RUNNING rows whose heartbeat is older than the lease lost their worker: that attempt failed
    (retried while tries remain). PENDING rows due a while ago lost their task message: queue
    them again (the conditional claim makes a duplicate harmless)."""
    now = timezone.now()
    lease = timedelta(seconds=settings.SNAPSHOT_LEASE_SECONDS)
    lost_workers = list(
        Snapshot.objects.filter(status=Snapshot.Status.RUNNING, heartbeat_at__lt=now - lease).values_list(
            "pk", flat=True
        )
    )
    for snapshot_id in lost_workers:
        outcome = snapshot_fail(
            snapshot_id=snapshot_id,
            reason=FailureReason.WORKER_LOST,
            detail="The worker stopped answering during the capture (it was restarted or ran out of memory).",
        )
        if outcome.retry_in is not None:
            _queue(snapshot_id, countdown=outcome.retry_in)
    if _queue_backlog() > 0:
        # Messages are still waiting in the queue: the pending rows are queued, just not reached
        # yet. Queuing them again would only double the backlog.
        return {"worker_lost": len(lost_workers), "requeued": 0}
    grace = timedelta(seconds=settings.SNAPSHOT_LEASE_SECONDS)
    stuck = list(
        Snapshot.objects.filter(status=Snapshot.Status.PENDING, not_before__lt=now - grace).values_list(
            "pk", flat=True
        )[:1000]
    )
    for snapshot_id in stuck:
        # Moving not_before to now keeps the next sweeps from queuing it again within the grace.
        with transaction.atomic():
            moved = Snapshot.objects.filter(
                pk=snapshot_id, status=Snapshot.Status.PENDING, not_before__lt=now - grace
            ).update(not_before=now)
            if moved:
                logger.info("snapshot %s: still pending, queued again", snapshot_id)
                transaction.on_commit(functools.partial(_queue, snapshot_id))
    return {"worker_lost": len(lost_workers), "requeued": len(stuck)}


def _queue_backlog() -> int:
    """Messages waiting in the broker's ``snapshots`` queue (0 when it cannot be asked)."""
    try:
        return queue_depths(["snapshots"])["snapshots"]
    except Exception:  # the broker did not answer: requeue as if there were no backlog
        return 0
