"""One snapshot from claim to outcome; the task and the ``snapshot`` command both call this."""

from __future__ import annotations

import logging
import time

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.utils import timezone

from . import services
from .models import FailureReason, SnapshotArtifact
from .quality import assess
from .renderer.browser import RENDERER, RenderTimeout
from .renderer.render import RenderFailure, render_upload, render_url
from .storage import artifact_read

logger = logging.getLogger(__name__)


def snapshot_run(*, snapshot_id: int, worker: str) -> services.Outcome | None:
    """Claim, render, check and store one snapshot. None when the row was not ours to run."""
    snapshot = services.snapshot_claim(snapshot_id=snapshot_id, worker=worker)
    if snapshot is None:
        logger.info("snapshot %s: not claimable (done, or running elsewhere)", snapshot_id)
        return None
    queue_wait = (snapshot.started_at - snapshot.not_before).total_seconds() if snapshot.started_at else None
    logger.info("snapshot %s: attempt %s of %s", snapshot_id, snapshot.attempts, snapshot.url)
    started = time.monotonic()

    def heartbeat() -> None:
        services.snapshot_heartbeat(snapshot_id=snapshot_id)

    try:
        upload = (
            snapshot.snapshot_artifacts.filter(name=SnapshotArtifact.Name.UPLOAD)
            .select_related("artifact")
            .first()
        )
        timeout = settings.SNAPSHOT_RENDER_TIMEOUT
        if upload is not None:
            html = artifact_read(upload.artifact).decode("utf-8", errors="replace")
            capture, provenance = RENDERER.run(
                render_upload, html, base_url=snapshot.url, timeout=timeout, heartbeat=heartbeat
            )
        else:
            capture, provenance = RENDERER.run(render_url, snapshot.url, timeout=timeout, heartbeat=heartbeat)
    except RenderFailure as exc:
        exc.provenance.setdefault("timings", {})["queue_wait"] = queue_wait
        return services.snapshot_fail(
            snapshot_id=snapshot_id, reason=exc.reason, detail=exc.detail, provenance=exc.provenance
        )
    except (RenderTimeout, SoftTimeLimitExceeded):
        # RENDERER killed the browser; the next snapshot gets a fresh one.
        return services.snapshot_fail(
            snapshot_id=snapshot_id,
            reason=FailureReason.TIMEOUT,
            detail="The capture took longer than the time limit and was stopped.",
        )
    except Exception as exc:  # a bug or an unforeseen failure: end the row, never leave it RUNNING
        logger.exception("snapshot %s: unexpected error while rendering", snapshot_id)
        return services.snapshot_fail(
            snapshot_id=snapshot_id,
            reason=FailureReason.INTERNAL,
            detail=f"LinkHub hit an unexpected error while capturing ({type(exc).__name__}).",
        )
    provenance.setdefault("timings", {})["queue_wait"] = (
        round(queue_wait, 3) if queue_wait is not None else None
    )
    provenance["timings"]["total"] = round(time.monotonic() - started, 3)
    provenance["worker"] = worker
    provenance["captured_at"] = timezone.now().isoformat()
    try:
        checked = time.monotonic()
        verdict = assess(
            http_status=capture.http_status,
            title=capture.meta.title,
            text=capture.text,
            html=capture.html or "",
            screenshot_png=capture.screenshot,
            content_type=capture.content_type or "text/html",
        )
        provenance["quality"] = verdict.checks
        provenance["timings"]["quality"] = round(time.monotonic() - checked, 3)
        return services.snapshot_complete(
            snapshot_id=snapshot_id,
            capture=capture,
            provenance=provenance,
            suspect_reason=verdict.reason if verdict.suspect else "",
        )
    except Exception as exc:  # storage full, database hiccup: the attempt fails, readable
        logger.exception("snapshot %s: checking or storing the capture failed", snapshot_id)
        return services.snapshot_fail(
            snapshot_id=snapshot_id,
            reason=FailureReason.INTERNAL,
            detail=f"The capture could not be checked or stored ({type(exc).__name__}).",
        )
