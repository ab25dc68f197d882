"""Reads for snapshots, scoped to what the user may see."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db.models import Exists, OuterRef, Prefetch, QuerySet, Subquery
from django.shortcuts import get_object_or_404

from linkhub.links.models import Link

from .models import Snapshot, SnapshotArtifact
from .storage import artifact_read


def _with_artifacts(qs: QuerySet[Snapshot]) -> QuerySet[Snapshot]:
    return qs.prefetch_related(
        Prefetch("snapshot_artifacts", queryset=SnapshotArtifact.objects.select_related("artifact"))
    )


def snapshot_list(*, link: Link) -> QuerySet[Snapshot]:
    return _with_artifacts(Snapshot.objects.filter(link=link).order_by("-version"))


def snapshot_get(*, owner: User, pk: int) -> Snapshot:
    """The owner's snapshot, or 404 (another user's snapshot looks like a missing one)."""
    qs = _with_artifacts(Snapshot.objects.select_related("link").filter(link__owner=owner))
    return get_object_or_404(qs, pk=pk)


def snapshot_latest(*, link: Link) -> Snapshot | None:
    return _with_artifacts(Snapshot.objects.filter(link=link)).order_by("-version").first()


def snapshot_latest_good(*, link: Link) -> Snapshot | None:
    return (
        Snapshot.objects.filter(link=link, status=Snapshot.Status.SUCCEEDED, suspect_reason="")
        .order_by("-version")
        .first()
    )


def snapshot_artifact_get(*, snapshot: Snapshot, name: str) -> SnapshotArtifact:
    return get_object_or_404(
        SnapshotArtifact.objects.select_related("artifact"), snapshot=snapshot, name=name
    )


def snapshot_text(snapshot: Snapshot | None) -> str:
    if snapshot is None:
        return ""
    row = (
        SnapshotArtifact.objects.select_related("artifact")
        .filter(snapshot=snapshot, name=SnapshotArtifact.Name.TEXT)
        .first()
    )
    return artifact_read(row.artifact).decode("utf-8", errors="replace") if row else ""


@dataclass
class DiffLine:
    kind: str  # "same", "added", "removed", "gap"
    text: str


def snapshot_text_diff(
    a: Snapshot, b: Snapshot, *, context: int = 3, max_lines: int = 5000
) -> list[DiffLine]:
    """The readable text of ``a`` against ``b``, line by line, with a few lines of context."""
    old = snapshot_text(a).splitlines()
    new = snapshot_text(b).splitlines()
    lines: list[DiffLine] = []
    for group in difflib.SequenceMatcher(None, old, new, autojunk=False).get_grouped_opcodes(context):
        if lines:
            lines.append(DiffLine("gap", "…"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines.extend(DiffLine("same", t) for t in old[i1:i2])
                continue
            if tag in ("replace", "delete"):
                lines.extend(DiffLine("removed", t) for t in old[i1:i2])
            if tag in ("replace", "insert"):
                lines.extend(DiffLine("added", t) for t in new[j1:j2])
        if len(lines) > max_lines:
            lines = lines[:max_lines]
            lines.append(DiffLine("gap", "(the diff is longer; shortened)"))
            break
    return lines


def snapshot_latest_for_links(*, link_ids: list[int]) -> dict[int, Snapshot]:
    """The newest version of each link's snapshot, in one query, for lists."""
    if not link_ids:
        return {}
    newest = Snapshot.objects.filter(link_id=OuterRef("link_id")).order_by("-version").values("version")[:1]
    thumb = SnapshotArtifact.objects.filter(snapshot=OuterRef("pk"), name=SnapshotArtifact.Name.THUMBNAIL)
    rows = (
        Snapshot.objects.filter(link_id__in=link_ids, version=Subquery(newest))
        .annotate(has_thumbnail=Exists(thumb))
        .only("id", "link_id", "version", "status", "failure_reason", "failure_detail", "suspect_reason")
    )
    return {row.link_id: row for row in rows}
