"""Content-addressed artifact storage through Django's storage API (filesystem or S3)."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from .models import Artifact, SnapshotArtifact

logger = logging.getLogger(__name__)


def artifact_path(sha256: str) -> str:
    return f"artifacts/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def artifact_store(data: bytes, content_type: str) -> Artifact:
    """Store ``data`` once: the same bytes saved twice share one file and one row."""
    sha = hashlib.sha256(data).hexdigest()
    rows = Artifact.objects.filter(sha256=sha)
    if transaction.get_connection().in_atomic_block:
        # Locked until the caller's transaction commits (with the row that uses it), so the
        # garbage collection below cannot take it away in between.
        rows = rows.select_for_update()
    existing = rows.first()
    if existing is not None and default_storage.exists(existing.path):
        return existing
    path = artifact_path(sha)
    if not default_storage.exists(path):
        saved = default_storage.save(path, ContentFile(data))
        if saved != path:  # another worker wrote the same content a moment ago
            default_storage.delete(saved)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return Artifact.objects.create(sha256=sha, size=len(data), content_type=content_type, path=path)
    except IntegrityError:
        return Artifact.objects.get(sha256=sha)


def artifact_read(artifact: Artifact) -> bytes:
    with default_storage.open(artifact.path, "rb") as fh:
        return fh.read()


def artifacts_collect_garbage(
    *, older_than: timedelta = timedelta(days=1), limit: int = 1000
) -> dict[str, int]:
    """Delete artifacts no snapshot uses any more (their links or versions were deleted), and
    their files. Only rows older than ``older_than``, locked with SKIP LOCKED, and checked
    again inside the transaction: a worker that is about to reuse one keeps it."""
    unused = ~Exists(SnapshotArtifact.objects.filter(artifact=OuterRef("pk")))
    with transaction.atomic():
        orphans = list(
            Artifact.objects.select_for_update(skip_locked=True)
            .filter(unused, created_at__lt=timezone.now() - older_than)
            .order_by("pk")[:limit]
        )
        Artifact.objects.filter(pk__in=[a.pk for a in orphans]).filter(unused).delete()
        paths = [a.path for a in orphans]
        freed = sum(a.size for a in orphans)

        def delete_files() -> None:
            for path in paths:
                try:
                    default_storage.delete(path)
                except OSError:  # already gone, or the storage hiccupped: the row is gone anyway
                    logger.warning("could not delete artifact file %s", path)

        transaction.on_commit(delete_files)
    if paths:
        logger.info("deleted %s unused artifacts (%s bytes)", len(paths), freed)
    return {"deleted": len(paths), "bytes": freed}
