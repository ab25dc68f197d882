"""Every change of a link's tags, and its audit row, in one place.

Whatever the path (the pages, the API, bulk actions, imports, tag merges and deletions, the admin,
the model's auto-apply, a reviewer's decision), tags are attached and detached here, and each
change is written as an append-only ``TagDecision`` in the same transaction, then announced
(``signals.tags_changed``) for the apps above to act on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from linkhub.audit import current_actor, current_source
from linkhub.metrics import tag_decisions_written

from ..models import TAG_MAX_LENGTH, TAGS_PER_LINK_MAX, Link, Tag, TagDecision, TaggedLink, TagOrigin, tag_key
from ..signals import TagChange, tags_changed

Action = TagDecision.Action
SOURCES = {s.value for s in TagDecision.Source}


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


# --- the audit ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One change to write: ``origin`` is the tag's origin after an add, before a removal."""

    link_id: int
    tag_name: str
    action: str
    origin: str = ""


def _source(source: str | None) -> str:
    source = source or current_source()
    return source if source in SOURCES else TagDecision.Source.CLI


def tag_changes_record(
    changes: Sequence[Change],
    *,
    actor: User | None = None,
    source: str | None = None,
    reason: str = "",
    suggestion_id: int | None = None,
    model_version_id: int | None = None,
    by_model: bool = False,
) -> list[TagDecision]:
    """Write the audit rows of changes already made in this transaction, and announce them.

    The actor is the one given, else the signed-in user of the request, else the link's owner (an
    import or a command acts for them); ``by_model``: the model itself, with no person."""
    if not changes:
        return []
    source = TagDecision.Source.MODEL if by_model else _source(source)
    actor = None if by_model else (actor or current_actor())
    links = {
        row["pk"]: row
        for row in Link.objects.filter(pk__in={c.link_id for c in changes}).values("pk", "owner_id", "url")
    }
    owners = {} if actor or by_model else User.objects.in_bulk({r["owner_id"] for r in links.values()})
    now = timezone.now()
    rows: list[TagDecision] = []
    written: list[Change] = []
    for change in changes:
        link = links.get(change.link_id)
        if link is None:
            continue
        who = actor or owners.get(link["owner_id"])
        name = "model" if by_model else (who.get_username() if who is not None else "unknown")
        rows.append(
            TagDecision(
                link_id=change.link_id,
                link_owner_id=link["owner_id"],
                link_url=link["url"][:2048],
                tag_name=change.tag_name[:TAG_MAX_LENGTH],
                tag_key=tag_key(change.tag_name)[: TAG_MAX_LENGTH * 2],
                action=change.action,
                actor=who,
                actor_name=name,
                reason=reason,
                source=source,
                suggestion_id=suggestion_id,
                model_version_id=model_version_id,
                at=now,
            )
        )
        written.append(change)
    TagDecision.objects.bulk_create(rows, batch_size=500)
    tag_decisions_written((row.action, row.source) for row in rows)
    tags_changed.send(
        sender=TagDecision,
        changes=[
            TagChange(
                decision_id=row.pk,
                link_id=row.link_id,
                tag_key=row.tag_key,
                action=row.action,
                origin=change.origin,
                suggestion_id=suggestion_id,
            )
            for row, change in zip(rows, written, strict=True)
        ],
    )
    return rows


# --- attaching and detaching ------------------------------------------------------------------------


def _attach(*, link_ids: Sequence[int], tags: Sequence[Tag], origin: str) -> set[tuple[int, int]]:
    """Put the tags on the links; return the (link id, tag id) pairs that are new to a person.

    A person (or their import) setting a tag the model applied confirms it: it becomes theirs."""
    if not link_ids or not tags:
        return set()
    held_by_person = set(
        TaggedLink.objects.filter(content_object_id__in=link_ids, tag__in=tags)
        .exclude(origin=TagOrigin.MODEL)
        .values_list("content_object_id", "tag_id")
    )
    TaggedLink.objects.bulk_create(
        [TaggedLink(content_object_id=lid, tag=t, origin=origin) for lid in link_ids for t in tags],
        ignore_conflicts=True,
    )
    if origin != TagOrigin.MODEL:
        TaggedLink.objects.filter(
            content_object_id__in=link_ids, tag__in=tags, origin=TagOrigin.MODEL
        ).update(origin=origin)
    return {(lid, t.pk) for lid in link_ids for t in tags} - held_by_person


def tags_add(
    *,
    link_ids: Sequence[int],
    tags: Sequence[Tag],
    origin: str = TagOrigin.USER,
    actor: User | None = None,
    source: str | None = None,
    reason: str = "",
) -> list[TagDecision]:
    """Attach tags to links, and audit each one that is new (a model-applied tag set by a person
    counts: it is confirmed)."""
    new = _attach(link_ids=link_ids, tags=tags, origin=origin)
    changes = [
        Change(lid, t.name, Action.ADD, origin) for lid in link_ids for t in tags if (lid, t.pk) in new
    ]
    source = source or (TagDecision.Source.IMPORT if origin == TagOrigin.IMPORT else None)
    return tag_changes_record(changes, actor=actor, source=source, reason=reason)


def tags_remove(
    *, rows: QuerySet[TaggedLink], actor: User | None = None, source: str | None = None, reason: str = ""
) -> int:
    """Delete these tags from their links, and audit each removal."""
    removed = list(rows.values_list("pk", "content_object_id", "tag__name", "origin"))
    if not removed:
        return 0
    TaggedLink.objects.filter(pk__in=[r[0] for r in removed]).delete()
    tag_changes_record(
        [Change(lid, name, Action.REMOVE, origin) for _, lid, name, origin in removed],
        actor=actor,
        source=source,
        reason=reason,
    )
    return len(removed)


@transaction.atomic
def link_tags_set(*, link: Link, names: Sequence[str], origin: str = TagOrigin.USER) -> None:
    """Make the link's tags exactly ``names``."""
    tags = tags_resolve(owner=link.owner, names=tag_names_clean(names))
    tags_remove(rows=TaggedLink.objects.filter(content_object=link).exclude(tag__in=tags))
    tags_add(link_ids=[link.pk], tags=tags, origin=origin)


# --- a decision on one tag --------------------------------------------------------------------------


@dataclass(frozen=True)
class Decided:
    decision: TagDecision
    origin_before: str  # the tag's origin on the link before the decision ("" when it was not on it)


@transaction.atomic
def link_tag_decide(
    *,
    link: Link,
    name: str,
    action: str,
    actor: User | None,
    reason: str = "",
    source: str | None = None,
    suggestion_id: int | None = None,
    model_version_id: int | None = None,
) -> Decided:
    """One decision on one tag of one link, applied and audited together.

    - accept, add: the tag is on the link as a person's (a model-applied one is confirmed);
    - reject: a tag the model applied comes off; one a person set cannot be rejected (remove it);
    - remove: the tag comes off (it must be there);
    - auto_apply: the model puts the tag on, marked as the model's (``actor`` None).
    Who may decide, and which suggestion a decision answers, is the caller's business."""
    names = tag_names_clean([name])
    if len(names) != 1:
        raise ValidationError({"tag": "Name exactly one tag."})
    name = names[0]
    link = Link.objects.select_for_update().get(pk=link.pk)
    key = tag_key(name)
    on_link = TaggedLink.objects.select_related("tag").filter(content_object=link, tag__key=key).first()
    before: str = on_link.origin if on_link is not None else ""
    origin: str = TagOrigin.USER
    if action in (Action.ACCEPT, Action.ADD, Action.AUTO_APPLY):
        origin = TagOrigin.MODEL if action == Action.AUTO_APPLY else TagOrigin.USER
        if not (action == Action.AUTO_APPLY and on_link is not None):
            _attach(link_ids=[link.pk], tags=tags_resolve(owner=link.owner, names=[name]), origin=origin)
    elif action == Action.REJECT:
        if on_link is not None and on_link.origin != TagOrigin.MODEL:
            raise ValidationError(
                {"tag": f"{name!r} was set by a person; remove it instead of rejecting it."}
            )
        if on_link is not None:  # the model applied it: take it off
            on_link.delete()
        origin = before
    elif action == Action.REMOVE:
        if on_link is None:
            raise ValidationError({"tag": f"The link has no tag {name!r}."})
        on_link.delete()
        origin = before
    else:
        raise ValidationError({"action": f"Unknown action {action!r}."})
    if action != Action.AUTO_APPLY:  # a person's decision is an edit of the link
        Link.objects.filter(pk=link.pk).update(updated_at=timezone.now())
    (decision,) = tag_changes_record(
        [Change(link.pk, name, action, origin)],
        actor=actor,
        source=source,
        reason=(reason or "").strip(),
        suggestion_id=suggestion_id,
        model_version_id=model_version_id,
        by_model=action == Action.AUTO_APPLY,
    )
    return Decided(decision=decision, origin_before=before)


# --- the owner's vocabulary -------------------------------------------------------------------------


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
    added = {lid: origin for lid, origin, _ in rows if lid not in had_target}
    tag_changes_record(
        [Change(lid, target.name, Action.ADD, origin) for lid, origin in sorted(added.items())]
        + [Change(lid, name, Action.REMOVE, origin) for lid, origin, name in rows]
    )
    return target


@transaction.atomic
def tag_delete(*, tag: Tag) -> None:
    tags_remove(rows=TaggedLink.objects.filter(tag=tag))
    tag.delete()
