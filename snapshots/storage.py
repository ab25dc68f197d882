"""Content-addressed artifact storage through Django's storage API (filesystem or S3)."""

from __future__ import annotations

import hashlib

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from .models import Artifact


def artifact_path(sha256: str) -> str:
    return f"artifacts/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def artifact_store(data: bytes, content_type: str) -> Artifact:
    """Store ``data`` once: the same bytes saved twice share one file and one row."""
    sha = hashlib.sha256(data).hexdigest()
    existing = Artifact.objects.filter(sha256=sha).first()
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
