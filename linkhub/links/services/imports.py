"""Imports of bookmark files: check and store the upload, then import it in batches with progress."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from linkhub.queueing import enqueue, enqueue_on_commit

from ..bookmarks import BookmarkFileError, ParsedBookmark, parse_netscape
from ..models import (
    DESCRIPTION_MAX_LENGTH,
    TAG_MAX_LENGTH,
    TAGS_PER_LINK_MAX,
    TITLE_MAX_LENGTH,
    ImportJob,
    Link,
    TagDecision,
    TaggedLink,
    TagOrigin,
    tag_key,
)
from ..normalize import normalize_url, url_domain
from ..signals import links_created
from .search import link_search_refresh
from .tags import Change, tag_changes_record, tag_names_clean, tags_resolve

logger = logging.getLogger(__name__)

IMPORT_ERRORS_KEPT = 200
IMPORT_TASK = "linkhub.links.tasks.import_bookmarks"


@transaction.atomic
def import_start(*, owner: User, upload: UploadedFile, queue: bool = True) -> ImportJob:
    """Check an uploaded bookmark file, store it, and (unless ``queue`` is off) queue its import.

    A file that cannot be imported as a whole raises ValidationError and stores nothing."""
    limit = settings.IMPORT_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        raise ValidationError({"file": f"The file is {upload.size:,} bytes; the limit is {limit:,} bytes."})
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ValidationError({"file": f"The file is larger than the limit of {limit:,} bytes."})
    try:
        items = parse_netscape(data, max_links=settings.IMPORT_MAX_LINKS)
    except BookmarkFileError as exc:
        raise ValidationError({"file": str(exc)}) from None
    name = (upload.name or "bookmarks.html")[-200:]
    job = ImportJob(owner=owner, source_name=name, total=len(items))
    job.file.save("bookmarks.html", ContentFile(data), save=False)
    job.save()
    if queue:
        enqueue_on_commit(IMPORT_TASK, job.pk)
    return job


def _import_batch(owner: User, batch: Sequence[ParsedBookmark]) -> tuple[int, int, list[dict[str, str]]]:
    """Import one batch in one transaction; return (created, existing, errors)."""
    errors: list[dict[str, str]] = []
    entries: dict[str, ParsedBookmark] = {}
    for item in batch:
        try:
            url = normalize_url(item.url)
        except ValidationError as exc:
            errors.append({"url": item.url[:300], "line": str(item.line), "reason": exc.messages[0]})
            continue
        if url in entries:  # the same page twice in one file: keep one, with both sets of tags
            entries[url].tags = list(dict.fromkeys(entries[url].tags + item.tags))
            continue
        entries[url] = item
    if not entries:
        return 0, 0, errors

    existing = {link.url: link for link in Link.objects.filter(owner=owner, url__in=entries)}
    new_links = [
        Link(
            owner=owner,
            url=url,
            domain=url_domain(url),
            title=item.title[:TITLE_MAX_LENGTH],
            description=item.description[:DESCRIPTION_MAX_LENGTH],
            is_private=item.private,
            is_read=not item.toread,
            created_at=item.add_date or timezone.now(),
        )
        for url, item in entries.items()
        if url not in existing
    ]
    Link.objects.bulk_create(new_links, ignore_conflicts=True)
    links = {link.url: link for link in Link.objects.filter(owner=owner, url__in=entries)}
    created_ids = [links[u].pk for u in links if u not in existing]

    # Fill what an existing link lacks; never overwrite what is stored.
    to_fill = []
    for url, link in existing.items():
        item = entries[url]
        changed = False
        if not link.title and item.title:
            link.title, changed = item.title[:TITLE_MAX_LENGTH], True
        if not link.description and item.description:
            link.description, changed = item.description[:DESCRIPTION_MAX_LENGTH], True
        if changed:
            to_fill.append(link)
    if to_fill:
        Link.objects.bulk_update(to_fill, ["title", "description"])

    all_names: dict[str, str] = {}
    per_link: dict[int, list[str]] = {}
    for url, item in entries.items():
        try:
            names = tag_names_clean(item.tags)
        except ValidationError:
            names = tag_names_clean(t[:TAG_MAX_LENGTH] for t in item.tags[:TAGS_PER_LINK_MAX])
        per_link[links[url].pk] = names
        for n in names:
            all_names.setdefault(tag_key(n), n)
    tag_by_key = {t.key: t for t in tags_resolve(owner=owner, names=list(all_names.values()))}
    rows = [
        TaggedLink(content_object_id=lid, tag=tag_by_key[tag_key(n)], origin=TagOrigin.IMPORT)
        for lid, names in per_link.items()
        for n in names
    ]
    before = set(
        TaggedLink.objects.filter(content_object_id__in=list(per_link), tag__in=list(tag_by_key.values()))
        .exclude(origin=TagOrigin.MODEL)
        .values_list("content_object_id", "tag_id")
    )
    TaggedLink.objects.bulk_create(rows, ignore_conflicts=True)
    tag_changes_record(
        [
            Change(r.content_object_id, r.tag.name, TagDecision.Action.ADD, TagOrigin.IMPORT)
            for r in rows
            if (r.content_object_id, r.tag.pk) not in before
        ],
        source=TagDecision.Source.IMPORT,
    )
    link_search_refresh(link_ids=[link.pk for link in to_fill] + created_ids)
    if created_ids:
        links_created.send(sender=Link, link_ids=created_ids, capture=True)
    return len(created_ids), len(entries) - len(created_ids), errors


def import_run(*, job_id: int, on_progress: Callable[[int, int], None] | None = None) -> ImportJob | None:
    """Run a queued import in batches, recording progress after each one."""
    now = timezone.now()
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.PENDING).update(
        status=ImportJob.Status.RUNNING, started_at=now, progressed_at=now
    )
    if not claimed:
        logger.info("import %s: not pending, nothing to do", job_id)
        return None
    job = ImportJob.objects.select_related("owner").get(pk=job_id)
    try:
        with job.file.open("rb") as fh:
            items = parse_netscape(fh.read(), max_links=settings.IMPORT_MAX_LINKS)
    except (BookmarkFileError, OSError) as exc:
        ImportJob.objects.filter(pk=job_id).update(
            status=ImportJob.Status.FAILED,
            message=f"The file could not be read: {exc}",
            finished_at=timezone.now(),
        )
        return ImportJob.objects.get(pk=job_id)

    size = settings.IMPORT_BATCH_SIZE
    created = existing = failed = done = 0
    errors: list[dict[str, str]] = []
    try:
        for start in range(0, len(items), size):
            batch = items[start : start + size]
            with transaction.atomic():
                c, e, errs = _import_batch(job.owner, batch)
            created, existing, failed, done = created + c, existing + e, failed + len(errs), done + len(batch)
            errors.extend(errs[: max(0, IMPORT_ERRORS_KEPT - len(errors))])
            ImportJob.objects.filter(pk=job_id).update(
                done=done,
                created=created,
                existing=existing,
                failed=failed,
                errors=errors,
                total=len(items),
                progressed_at=timezone.now(),
            )
            if on_progress is not None:
                on_progress(done, len(items))
    except Exception as exc:
        logger.exception("import %s failed after %s of %s entries", job_id, done, len(items))
        ImportJob.objects.filter(pk=job_id).update(
            status=ImportJob.Status.FAILED,
            finished_at=timezone.now(),
            message=(
                f"The import stopped after {done} of {len(items)} entries ({created} new links "
                f"saved) because of an error: {exc}. Importing the same file again adds the rest "
                "without duplicating what was saved."
            ),
        )
        raise
    summary = f"{created} new, {existing} already saved, {failed} skipped."
    ImportJob.objects.filter(pk=job_id).update(
        status=ImportJob.Status.SUCCEEDED, finished_at=timezone.now(), message=summary, file=""
    )
    job.file.delete(save=False)  # the links hold what mattered; a failed import keeps its file
    logger.info("import %s done: %s", job_id, summary)
    return ImportJob.objects.get(pk=job_id)


def imports_sweep_stale(*, older_than_minutes: int = 30, pending_minutes: int = 5) -> int:
    """Re-queue imports whose task message was lost, and fail those whose worker died, so that
    none stays pending or running forever. Returns how many rows it touched."""
    now = timezone.now()
    lost = list(
        ImportJob.objects.filter(
            status=ImportJob.Status.PENDING, created_at__lt=now - timedelta(minutes=pending_minutes)
        ).values_list("pk", flat=True)
    )
    for job_id in lost:  # the claim in import_run is conditional, so a duplicate does no harm
        logger.info("import %s: still pending, queued again", job_id)
        enqueue(IMPORT_TASK, job_id)
    cutoff = now - timedelta(minutes=older_than_minutes)
    stale = ImportJob.objects.filter(status=ImportJob.Status.RUNNING, progressed_at__lt=cutoff)
    return len(lost) + stale.update(
        status=ImportJob.Status.FAILED,
        finished_at=timezone.now(),
        message=(
            "The import stopped because its worker went away. Import the same file again: "
            "links already saved are kept and not duplicated."
        ),
    )
