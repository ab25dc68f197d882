"""Serving artifacts to their owner. Archived HTML must never run script on our origin."""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404

from .models import Snapshot, SnapshotArtifact

# The archive is someone else's page: a sandbox without scripts gives it an opaque origin, so
# nothing in it can reach this application's cookies or pages, and it may load nothing itself.
ARCHIVE_CSP = (
    "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; img-src data:; "
    "style-src 'unsafe-inline' data:; font-src data:; media-src data:; frame-ancestors 'self'"
)
EXTENSIONS = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
}


def artifact_response(*, snapshot: Snapshot, name: str, download: bool = False) -> FileResponse:
    if name == SnapshotArtifact.Name.UPLOAD:
        raise Http404("No such artifact.")  # the raw upload is only an input; page.html is its safe form
    row = snapshot.snapshot_artifacts.select_related("artifact").filter(name=name).first()
    if row is None:
        raise Http404("This snapshot has no such artifact.")
    artifact = row.artifact
    content_type = artifact.content_type
    filename = (
        name if name != SnapshotArtifact.Name.ORIGINAL else f"original.{EXTENSIONS.get(content_type, 'bin')}"
    )
    response = FileResponse(
        default_storage.open(artifact.path, "rb"),
        content_type=content_type,
        as_attachment=download,
        filename=f"snapshot-{snapshot.pk}-{filename}",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=86400, immutable"
    response["ETag"] = f'"{artifact.sha256}"'
    if content_type.startswith("text/html") or content_type.startswith("image/svg"):
        response["Content-Security-Policy"] = ARCHIVE_CSP
        response["X-Frame-Options"] = "SAMEORIGIN"  # shown inside our own snapshot page
    else:
        response["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'self'"
        response["X-Frame-Options"] = "SAMEORIGIN"
    return response
