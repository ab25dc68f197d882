"""Snapshot pages: the panel on a link, one snapshot, artifacts, diff; and the buttons."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from linkhub.links import selectors as link_selectors
from linkhub.typing import AuthedRequest

from . import selectors, services
from .models import Snapshot
from .serving import artifact_response


@login_required
@require_POST
def snapshot_request(request: AuthedRequest, pk: int) -> HttpResponse:
    link = link_selectors.link_get(owner=request.user, pk=pk)
    services.snapshot_request(link=link, source=Snapshot.Source.MANUAL, actor=request.user)
    messages.success(request, "A new snapshot is on its way.")
    return redirect("links:detail", pk=link.pk)


@login_required
@require_POST
def snapshot_retry(request: AuthedRequest, pk: int) -> HttpResponse:
    snapshot = selectors.snapshot_get(owner=request.user, pk=pk)
    try:
        services.snapshot_retry(snapshot=snapshot, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Trying version {snapshot.version} again.")
    return redirect("links:detail", pk=snapshot.link_id)


@login_required
@require_POST
def snapshot_upload(request: AuthedRequest, pk: int) -> HttpResponse:
    link = link_selectors.link_get(owner=request.user, pk=pk)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "Choose an HTML file to upload.")
    else:
        try:
            services.snapshot_upload(link=link, actor=request.user, upload=upload)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, "Your capture was uploaded; it is being processed.")
    return redirect("links:detail", pk=link.pk)


@login_required
@require_POST
def snapshot_schedule(request: AuthedRequest, pk: int) -> HttpResponse:
    link = link_selectors.link_get(owner=request.user, pk=pk)
    raw = request.POST.get("every_days", "").strip()
    try:
        every = int(raw) if raw else None
        services.snapshot_schedule_set(link=link, every_days=every)
    except (ValueError, ValidationError):
        messages.error(request, "Give a number of days between 1 and 3650, or leave it empty.")
    else:
        messages.success(
            request, f"Re-snapshot every {every} days." if every else "No scheduled re-snapshots."
        )
    return redirect("links:detail", pk=link.pk)


@login_required
def snapshot_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    snapshot = selectors.snapshot_get(owner=request.user, pk=pk)
    names = {row.name for row in snapshot.snapshot_artifacts.all()}
    return render(
        request,
        "snapshots/detail.html",
        {
            "snapshot": snapshot,
            "link": snapshot.link,
            "names": names,
            "provenance_json": json.dumps(snapshot.provenance, indent=2, sort_keys=True),
        },
    )


@login_required
def snapshot_artifact(request: AuthedRequest, pk: int, name: str) -> FileResponse:
    snapshot = selectors.snapshot_get(owner=request.user, pk=pk)
    return artifact_response(snapshot=snapshot, name=name, download=request.GET.get("download") == "1")


@login_required
def snapshot_diff(request: AuthedRequest, pk: int) -> HttpResponse:
    link = link_selectors.link_get(owner=request.user, pk=pk)
    versions = list(selectors.snapshot_list(link=link).filter(status=Snapshot.Status.SUCCEEDED))
    by_version = {s.version: s for s in versions}
    a: Snapshot | None
    b: Snapshot | None
    try:
        a = by_version[int(request.GET.get("a", ""))]
        b = by_version[int(request.GET.get("b", ""))]
    except (KeyError, ValueError):
        a, b = (versions[1], versions[0]) if len(versions) >= 2 else (None, None)
    lines = selectors.snapshot_text_diff(a, b) if a and b else []
    return render(
        request,
        "snapshots/diff.html",
        {
            "link": link,
            "versions": versions,
            "a": a,
            "b": b,
            "lines": lines,
            "added": sum(1 for x in lines if x.kind == "added"),
            "removed": sum(1 for x in lines if x.kind == "removed"),
        },
    )
