"""Saving, editing and deleting links, one by one or in bulk, and the text of their pages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import (
    DESCRIPTION_MAX_LENGTH,
    NOTES_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Link,
    TaggedLink,
    TagOrigin,
    tag_key,
)
from ..normalize import normalize_url, url_domain
from ..signals import links_created
from .search import link_search_refresh
from .tags import link_tags_set, tag_names_clean, tags_add, tags_remove, tags_resolve

CONTENT_TEXT_MAX = 1_000_000  # characters of page text kept on the link for search


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
    capture: bool = True,
) -> tuple[Link, bool]:
    """Save a link. The same URL saved again returns the existing link (created=False), with
    the new tags added and empty fields filled; nothing already stored is overwritten.

    A new link is announced (``signals.links_created``), so that the apps above take a snapshot
    of it (unless ``capture`` is off: the caller does that itself) and suggest its tags."""
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
    tags_add(link_ids=[link.pk], tags=tags_resolve(owner=owner, names=tag_names), origin=origin)
    if created:
        link_search_refresh(link_ids=[link.pk])
        links_created.send(sender=Link, link_ids=[link.pk], capture=capture)
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
    links_delete(link_ids=[link.pk])


@transaction.atomic
def links_delete(*, link_ids: Sequence[int], actor: User | None = None, source: str | None = None) -> int:
    """Delete links (their snapshots and suggestions go with them). Their tags come off first,
    audited as removals, so the audit says what happened to every tag."""
    tags_remove(
        rows=TaggedLink.objects.filter(content_object_id__in=link_ids),
        actor=actor,
        source=source,
        reason="the link was deleted",
    )
    deleted, _ = Link.objects.filter(pk__in=link_ids).delete()
    return deleted


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
            tags_add(link_ids=ids, tags=tags_resolve(owner=owner, names=names), origin=TagOrigin.USER)
        else:
            tags_remove(
                rows=TaggedLink.objects.filter(
                    content_object_id__in=ids,
                    tag__owner=owner,
                    tag__key__in=[tag_key(n) for n in names],
                )
            )
        Link.objects.filter(pk__in=ids).update(updated_at=timezone.now())
    elif action == "delete":
        links_delete(link_ids=ids)
    else:
        Link.objects.filter(pk__in=ids).update(is_read=action == "mark_read", updated_at=timezone.now())
    return len(ids)


@transaction.atomic
def link_content_set(*, link_id: int, text: str, title: str = "", description: str = "") -> None:
    """The readable text of the link's page (its newest good snapshot's, or "" when it has none);
    a link saved without a title or description gets the page's."""
    if not Link.objects.filter(pk=link_id).update(content_text=text[:CONTENT_TEXT_MAX]):
        return  # deleted meanwhile
    if title:
        Link.objects.filter(pk=link_id, title="").update(title=title[:TITLE_MAX_LENGTH])
    if description:
        Link.objects.filter(pk=link_id, description="").update(
            description=description[:DESCRIPTION_MAX_LENGTH]
        )
    link_search_refresh(link_ids=[link_id])
