"""Every write to links and tags: create, update, delete, tag operations, imports."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.postgres.search import SearchVector
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Func, TextField, Value
from django.db.models.functions import Left
from django.utils import timezone

from linkhub.queueing import enqueue, enqueue_on_commit

from .bookmarks import BookmarkFileError, ParsedBookmark, parse_netscape
from .models import (
    DESCRIPTION_MAX_LENGTH,
    NOTES_MAX_LENGTH,
    TAG_MAX_LENGTH,
    TAGS_PER_LINK_MAX,
    TITLE_MAX_LENGTH,
    ImportJob,
    Link,
    Tag,
    TaggedLink,
    TagOrigin,
    tag_key,
)
from .normalize import normalize_url, url_domain

logger = logging.getLogger(__name__)

SEARCH_TEXT_MAX = 200_000  # characters of snapshot text that go into the search index
IMPORT_ERRORS_KEPT = 200
IMPORT_TASK = "linkhub.links.tasks.import_bookmarks"


# --- tags -------------------------------------------------------------------------------------


def tag_names_clean(names: Iterable[str]) -> list[str]:
    """Trim, collapse spaces and drop duplicates (ignoring case); the first spelling wins."""
    seen: dict[str, str] = {}
    for raw in names:
        if not isinstance(raw, str):
            raise ValidationError({"tags": "Each tag must be a string."})
        name = " ".join(raw.replace(",", " ").split()) if "," in raw else " ".join(raw.split())
        if not name:
            continue
        if len(name) > TAG_MAX_LENGTH:
            raise ValidationError({"tags": f"Tag “{name[:30]}…” is longer than {TAG_MAX_LENGTH} characters."})
        seen.setdefault(tag_key(name), name)
    if len(seen) > TAGS_PER_LINK_MAX:
        raise ValidationError({"tags": f"A link can have at most {TAGS_PER_LINK_MAX} tags."})
    return list(seen.values())


def tags_resolve(*, owner: User, names: Sequence[str]) -> list[Tag]:
    """The owner's tags with these names (ignoring case), created where missing, in order."""
    if not names:
        return []
    wanted = {tag_key(n): n for n in names}
    found = {t.key: t for t in Tag.objects.filter(owner=owner, key__in=wanted)}
    missing = [k for k in wanted if k not in found]
    if missing:
        Tag.objects.bulk_create(
            [Tag(owner=owner, name=wanted[k], key=k, slug=Tag().slugify(wanted[k])) for k in missing],
            ignore_conflicts=True,  # a concurrent request may create the same tag
        )
        found.update({t.key: t for t in Tag.objects.filter(owner=owner, key__in=missing)})
    return [found[k] for k in wanted]


def _tags_attach(*, link_ids: Sequence[int], tags: Sequence[Tag], origin: str) -> None:
    if not link_ids or not tags:
        return
    TaggedLink.objects.bulk_create(
        [TaggedLink(content_object_id=lid, tag=t, origin=origin) for lid in link_ids for t in tags],
        ignore_conflicts=True,
    )
    if origin != TagOrigin.MODEL:
        # A person (or their import) setting a tag the model applied confirms it.
        TaggedLink.objects.filter(
            content_object_id__in=link_ids, tag__in=tags, origin=TagOrigin.MODEL
        ).update(origin=origin)


def _audit_tags(
    *,
    added: Sequence[tuple[int, str]] = (),
    removed: Sequence[tuple[int, str, str]] = (),
    origin: str = TagOrigin.USER,
) -> None:
    """Every tag a person (or their import) adds or removes is an audited decision."""
    if not added and not removed:
        return
    from mlops.services.decisions import tag_changes_record  # mlops builds on links

    tag_changes_record(added=added, removed=removed, source="import" if origin == TagOrigin.IMPORT else None)


def _tags_attach_audited(*, link_ids: Sequence[int], tags: Sequence[Tag], origin: str) -> None:
    """Attach, and audit what was new (a model-applied tag set by a person counts: it is confirmed)."""
    if not link_ids or not tags:
        return
    before = set(
        TaggedLink.objects.filter(content_object_id__in=link_ids, tag__in=tags)
        .exclude(origin=TagOrigin.MODEL)
        .values_list("content_object_id", "tag_id")
    )
    _tags_attach(link_ids=link_ids, tags=tags, origin=origin)
    added = [(lid, t.name) for lid in link_ids for t in tags if (lid, t.pk) not in before]
    _audit_tags(added=added, origin=origin)


def _tags_detach_audited(rows) -> int:
    """Delete the TaggedLink rows of a queryset, and audit each removal."""
    removed = list(rows.values_list("pk", "content_object_id", "tag__name", "origin"))
    if not removed:
        return 0
    TaggedLink.objects.filter(pk__in=[r[0] for r in removed]).delete()
    _audit_tags(removed=[(lid, name, origin) for _, lid, name, origin in removed])
    return len(removed)


@transaction.atomic
def link_tags_set(*, link: Link, names: Sequence[str], origin: str = TagOrigin.USER) -> None:
    """Make the link's tags exactly ``names``."""
    tags = tags_resolve(owner=link.owner, names=tag_names_clean(names))
    _tags_detach_audited(TaggedLink.objects.filter(content_object=link).exclude(tag__in=tags))
    _tags_attach_audited(link_ids=[link.pk], tags=tags, origin=origin)


@transaction.atomic
def tag_rename(*, tag: Tag, name: str) -> Tag:
    """Rename a tag; if the owner already has a tag of that name, merge into it."""
    names = tag_names_clean([name])
    if not names:
        raise ValidationError({"name": "Enter a tag name."})
    new_name = names[0]
    other = Tag.objects.filter(owner=tag.owner, key=tag_key(new_name)).exclude(pk=tag.pk).first()
    if other is not None:
        return tag_merge(owner=tag.owner, sources=[tag], target_name=other.name)
    tag.name = new_name
    tag.slug = tag.slugify(new_name)
    tag.save(update_fields=["name", "slug", "key"])
    return tag


@transaction.atomic
def tag_merge(*, owner: User, sources: Sequence[Tag], target_name: str) -> Tag:
    """Move every link of ``sources`` to the tag ``target_name`` and delete the sources."""
    names = tag_names_clean([target_name])
    if not names:
        raise ValidationError({"target": "Enter the name of the tag to merge into."})
    if any(s.owner_id != owner.pk for s in sources):
        raise ValidationError({"sources": "Unknown tag."})
    (target,) = tags_resolve(owner=owner, names=names)
    source_ids = [s.pk for s in sources if s.pk != target.pk]
    if not source_ids:
        return target
    rows = list(
        TaggedLink.objects.filter(tag_id__in=source_ids).values_list(
            "content_object_id", "origin", "tag__name"
        )
    )
    had_target = set(TaggedLink.objects.filter(tag=target).values_list("content_object_id", flat=True))
    TaggedLink.objects.bulk_create(
        [TaggedLink(content_object_id=lid, tag=target, origin=origin) for lid, origin, _ in rows],
        ignore_conflicts=True,
    )
    Tag.objects.filter(pk__in=source_ids).delete()
    # Audited as what happened to each link: the source tag off, the target tag on (once).
    added = sorted({(lid, target.name) for lid, _, _ in rows if lid not in had_target})
    _audit_tags(added=added, removed=[(lid, name, origin) for lid, origin, name in rows])
    return target


@transaction.atomic
def tag_delete(*, tag: Tag) -> None:
    _tags_detach_audited(TaggedLink.objects.filter(tag=tag))
    tag.delete()


# --- links ------------------------------------------------------------------------------------


def _check_lengths(*, title: str, description: str, notes: str) -> None:
    errors = {}
    if len(title) > TITLE_MAX_LENGTH:
        errors["title"] = f"The title is longer than {TITLE_MAX_LENGTH} characters."
    if len(description) > DESCRIPTION_MAX_LENGTH:
        errors["description"] = f"The description is longer than {DESCRIPTION_MAX_LENGTH} characters."
    if len(notes) > NOTES_MAX_LENGTH:
        errors["notes"] = f"The notes are longer than {NOTES_MAX_LENGTH} characters."
    if errors:
        raise ValidationError(errors)


def link_search_refresh(*, link_ids: Iterable[int]) -> None:
    """Rebuild the PostgreSQL search vector of these links (a no-op on SQLite)."""
    ids = list(link_ids)
    if connection.vendor != "postgresql" or not ids:
        return
    cfg = settings.SEARCH_CONFIG
    # "docs.python.org/3/library" -> "docs python org 3 library", so URL words are searchable.
    url_words = Func(
        F("url"),
        Value(r"[^[:alnum:]]+"),
        Value(" "),
        Value("g"),
        function="regexp_replace",
        output_field=TextField(),
    )
    vector = (
        SearchVector("title", weight="A", config=cfg)
        + SearchVector("description", weight="B", config=cfg)
        + SearchVector(url_words, weight="C", config=cfg)
        + SearchVector("notes", weight="C", config=cfg)
        + SearchVector(Left("content_text", SEARCH_TEXT_MAX), weight="D", config=cfg)
    )
    Link.objects.filter(pk__in=ids).update(search_vector=vector)


def _links_created(*, link_ids: Sequence[int], request_snapshot: bool = True) -> None:
    """Follow-up work for new links: the search index, and a first snapshot of each."""
    from mlops.services.suggest import suggestions_request
    from snapshots.services import snapshots_request_for_new_links  # snapshots builds on links

    link_search_refresh(link_ids=link_ids)
    if request_snapshot:
        snapshots_request_for_new_links(link_ids=list(link_ids))
    suggestions_request(link_ids=list(link_ids))


@transaction.atomic
def link_create(
    *,
    owner: User,
    url: str,
    title: str = "",
    description: str = "",
    notes: str = "",
    tags: Sequence[str] = (),
    is_read: bool = False,
    is_private: bool = False,
    created_at: datetime | None = None,
    origin: str = TagOrigin.USER,
    request_snapshot: bool = True,
) -> tuple[Link, bool]:
    """Save a link. The same URL saved again returns the existing link (created=False), with
    the new tags added and empty fields filled; nothing already stored is overwritten."""
    try:
        normalized = normalize_url(url)
    except ValidationError as exc:
        raise ValidationError({"url": exc.messages}) from None
    title, description, notes = title.strip(), description.strip(), notes.strip()
    _check_lengths(title=title, description=description, notes=notes)
    tag_names = tag_names_clean(tags)

    link = Link.objects.filter(owner=owner, url=normalized).first()
    created = False
    if link is None:
        try:
            with transaction.atomic():
                link = Link.objects.create(
                    owner=owner,
                    url=normalized,
                    domain=url_domain(normalized),
                    title=title,
                    description=description,
                    notes=notes,
                    is_read=is_read,
                    is_private=is_private,
                    created_at=created_at or timezone.now(),
                )
                created = True
        except IntegrityError:  # saved by a concurrent request a moment ago
            link = Link.objects.get(owner=owner, url=normalized)
    if not created:
        fill = {}
        for name, value in (("title", title), ("description", description), ("notes", notes)):
            if value and not getattr(link, name):
                fill[name] = value
        if fill:
            for name, value in fill.items():
                setattr(link, name, value)
            link.save(update_fields=[*fill, "updated_at"])
            link_search_refresh(link_ids=[link.pk])
    _tags_attach_audited(link_ids=[link.pk], tags=tags_resolve(owner=owner, names=tag_names), origin=origin)
    if created:
        _links_created(link_ids=[link.pk], request_snapshot=request_snapshot)
    return link, created


@transaction.atomic
def link_update(
    *,
    link: Link,
    url: str | None = None,
    title: str | None = None,
    description: str | None = None,
    notes: str | None = None,
    is_read: bool | None = None,
    is_private: bool | None = None,
    tags: Sequence[str] | None = None,
) -> Link:
    changed: list[str] = []
    if url is not None:
        try:
            normalized = normalize_url(url)
        except ValidationError as exc:
            raise ValidationError({"url": exc.messages}) from None
        if normalized != link.url:
            if Link.objects.filter(owner=link.owner, url=normalized).exclude(pk=link.pk).exists():
                raise ValidationError({"url": "You have already saved this URL as another link."})
            link.url, link.domain = normalized, url_domain(normalized)
            changed += ["url", "domain"]
    for name, value in (("title", title), ("description", description), ("notes", notes)):
        if value is not None and value.strip() != getattr(link, name):
            setattr(link, name, value.strip())
            changed.append(name)
    _check_lengths(title=link.title, description=link.description, notes=link.notes)
    for name, flag in (("is_read", is_read), ("is_private", is_private)):
        if flag is not None and flag != getattr(link, name):
            setattr(link, name, flag)
            changed.append(name)
    if changed:
        link.save(update_fields=[*changed, "updated_at"])
        if set(changed) & {"url", "title", "description", "notes"}:
            link_search_refresh(link_ids=[link.pk])
    if tags is not None:
        link_tags_set(link=link, names=tags)
    return link


@transaction.atomic
def link_delete(*, link: Link) -> None:
    link.delete()


BULK_ACTIONS = ("add_tags", "remove_tags", "delete", "mark_read", "mark_unread")


@transaction.atomic
def links_bulk_update(*, owner: User, link_ids: Sequence[int], action: str, tags: Sequence[str] = ()) -> int:
    """Apply one action to the owner's links among ``link_ids``; return how many it touched.

    Ids of other users' links are ignored, as if they did not exist."""
    if action not in BULK_ACTIONS:
        raise ValidationError({"action": f"Unknown action; use one of {', '.join(BULK_ACTIONS)}."})
    ids = list(Link.objects.filter(owner=owner, pk__in=link_ids).values_list("pk", flat=True))
    if action in ("add_tags", "remove_tags"):
        names = tag_names_clean(tags)
        if not names:
            raise ValidationError({"tags": "Name at least one tag."})
        if action == "add_tags":
            _tags_attach_audited(
                link_ids=ids, tags=tags_resolve(owner=owner, names=names), origin=TagOrigin.USER
            )
        else:
            _tags_detach_audited(
                TaggedLink.objects.filter(
                    content_object_id__in=ids,
                    tag__owner=owner,
                    tag__key__in=[tag_key(n) for n in names],
                )
            )
        Link.objects.filter(pk__in=ids).update(updated_at=timezone.now())
    elif action == "delete":
        Link.objects.filter(pk__in=ids).delete()
    else:
        Link.objects.filter(pk__in=ids).update(is_read=action == "mark_read", updated_at=timezone.now())
    return len(ids)


# --- import -----------------------------------------------------------------------------------


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
    _audit_tags(
        added=[
            (r.content_object_id, r.tag.name) for r in rows if (r.content_object_id, r.tag.pk) not in before
        ],
        origin=TagOrigin.IMPORT,
    )
    link_search_refresh(link_ids=[link.pk for link in to_fill])
    if created_ids:
        _links_created(link_ids=created_ids)
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
