"""Tag decisions: accept, reject, add, remove; every one an append-only audit row written in the
same transaction as the change it records.

Two ways in:
- ``decide``: an explicit decision from the UI's suggestion chips, ``POST
  /api/links/{id}/decisions/`` or the admin's review queue. Owners decide on their own links;
  reviewers on anyone's, with a reason.
- ``tag_changes_record``: called by ``linkhub.links.services`` whenever a person's edit, a bulk
  action or an import adds or removes tags, so no path changes tags unaudited.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from linkhub.accounts.roles import is_reviewer
from linkhub.audit import current_actor, current_source
from linkhub.links.models import Link, TaggedLink, TagOrigin, tag_key
from linkhub.links.services import _tags_attach, tag_names_clean, tags_resolve
from linkhub.metrics import suggestion_decided, tag_decisions_written

from ..models import Suggestion, TagDecision

ACTIONS = tuple(a.value for a in TagDecision.Action if a != TagDecision.Action.AUTO_APPLY)
SOURCES = {s.value for s in TagDecision.Source}
OPEN = (Suggestion.Status.PROPOSED, Suggestion.Status.AUTO_APPLIED)


def _source(source: str | None) -> str:
    source = source or current_source()
    return source if source in SOURCES else TagDecision.Source.CLI


def _write(
    *,
    link: Link,
    tag_name: str,
    action: str,
    actor: User | None,
    reason: str = "",
    source: str,
    suggestion: Suggestion | None = None,
) -> TagDecision:
    tag_decisions_written([(action, source)])
    return TagDecision.objects.create(
        link_id=link.pk,
        link_owner_id=link.owner_id,
        link_url=link.url[:2048],
        tag_name=tag_name[:100],
        tag_key=tag_key(tag_name)[:200],
        action=action,
        actor=actor,
        actor_name=actor.get_username() if actor is not None else "model",
        reason=reason,
        source=source,
        suggestion=suggestion,
        model_version_id=suggestion.model_version_id if suggestion is not None else None,
    )


def _open_suggestion(link: Link, key: str) -> Suggestion | None:
    return (
        Suggestion.objects.select_for_update()
        .filter(link=link, tag_key=key, visible=True, status__in=OPEN)
        .order_by("-created_at")
        .first()
    )


def _close(suggestion: Suggestion | None, status: str) -> None:
    if suggestion is None:
        return
    suggestion.status = status
    suggestion.decided_at = timezone.now()
    suggestion.save(update_fields=["status", "decided_at"])
    suggestion_decided(outcome=status)
    # Older open suggestions of the same tag (from earlier versions) are answered too.
    Suggestion.objects.filter(
        link_id=suggestion.link_id, tag_key=suggestion.tag_key, visible=True, status__in=OPEN
    ).exclude(pk=suggestion.pk).update(status=Suggestion.Status.EXPIRED, decided_at=suggestion.decided_at)


def can_decide(user: User, link: Link) -> bool:
    return link.owner_id == user.pk or is_reviewer(user) or user.is_superuser


@transaction.atomic
def decide(
    *,
    link: Link,
    tag: str,
    action: str,
    actor: User,
    reason: str = "",
    source: str | None = None,
) -> TagDecision:
    """One decision on one tag of one link, and its audit row, together or not at all."""
    if action not in ACTIONS:
        raise ValidationError({"action": f"Use one of: {', '.join(ACTIONS)}."})
    names = tag_names_clean([tag])
    if len(names) != 1:
        raise ValidationError({"tag": "Name exactly one tag."})
    name = names[0]
    reason = (reason or "").strip()
    if link.owner_id != actor.pk:
        if not (is_reviewer(actor) or actor.is_superuser):
            raise PermissionDenied("Only the link's owner or a reviewer may decide its tags.")
        if not reason:
            raise ValidationError(
                {"reason": "A reviewer deciding on another user's link must give a reason."}
            )
    link = Link.objects.select_for_update().get(pk=link.pk)
    key = tag_key(name)
    suggestion = _open_suggestion(link, key)
    on_link = TaggedLink.objects.select_related("tag").filter(content_object=link, tag__key=key).first()
    source = _source(source)

    if action == TagDecision.Action.ACCEPT:
        if suggestion is None:
            raise ValidationError({"tag": f"There is no open suggestion of {name!r} for this link."})
        if suggestion.status == Suggestion.Status.PROPOSED:
            _tags_attach(
                link_ids=[link.pk],
                tags=tags_resolve(owner=link.owner, names=[suggestion.tag_name]),
                origin=TagOrigin.USER,
            )
        elif on_link is not None:  # auto-applied: a person confirms it
            TaggedLink.objects.filter(pk=on_link.pk).update(origin=TagOrigin.USER)
        _close(suggestion, Suggestion.Status.ACCEPTED)
    elif action == TagDecision.Action.REJECT:
        if on_link is not None and on_link.origin != TagOrigin.MODEL:
            raise ValidationError(
                {"tag": f"{name!r} was set by a person; remove it instead of rejecting it."}
            )
        if on_link is not None:  # the model applied it: take it off
            on_link.delete()
        if suggestion is not None:
            status = (
                Suggestion.Status.REVERTED
                if suggestion.status == Suggestion.Status.AUTO_APPLIED
                else Suggestion.Status.REJECTED
            )
            _close(suggestion, status)
        # Without a suggestion the rejection still counts: the model never suggests it here.
    elif action == TagDecision.Action.ADD:
        _tags_attach(
            link_ids=[link.pk], tags=tags_resolve(owner=link.owner, names=[name]), origin=TagOrigin.USER
        )
        _close(suggestion, Suggestion.Status.ACCEPTED)
    else:  # remove
        if on_link is None:
            raise ValidationError({"tag": f"The link has no tag {name!r}."})
        was_model = on_link.origin == TagOrigin.MODEL
        on_link.delete()
        if was_model:
            _close(suggestion, Suggestion.Status.REVERTED)
    Link.objects.filter(pk=link.pk).update(updated_at=timezone.now())
    return _write(
        link=link,
        tag_name=name,
        action=action,
        actor=actor,
        reason=reason,
        source=source,
        suggestion=suggestion,
    )


def tag_changes_record(
    *,
    added: Iterable[tuple[int, str]] = (),
    removed: Iterable[tuple[int, str, str]] = (),
    actor: User | None = None,
    source: str | None = None,
) -> int:
    """Audit tag changes made by the link services: ``added`` as (link id, tag name), ``removed``
    as (link id, tag name, origin it had). Open suggestions they answer are closed. In bulk: an
    import of thousands of links writes its rows in a few queries."""
    changes = [(lid, name, TagDecision.Action.ADD, "") for lid, name in added]
    changes += [(lid, name, TagDecision.Action.REMOVE, origin) for lid, name, origin in removed]
    if not changes:
        return 0
    source = _source(source)
    actor = actor or current_actor()
    link_ids = {c[0] for c in changes}
    links = {row["pk"]: row for row in Link.objects.filter(pk__in=link_ids).values("pk", "owner_id", "url")}
    owners = {u.pk: u for u in User.objects.filter(pk__in={r["owner_id"] for r in links.values()})}
    keys = {tag_key(c[1]) for c in changes}
    open_by_pair: dict[tuple[int, str], Suggestion] = {}
    for row in Suggestion.objects.filter(
        link_id__in=link_ids, tag_key__in=keys, visible=True, status__in=OPEN
    ).order_by("created_at"):
        open_by_pair[(row.link_id, row.tag_key)] = row  # the newest wins
    now = timezone.now()
    rows: list[TagDecision] = []
    closed: dict[str, list[int]] = {
        Suggestion.Status.ACCEPTED.value: [],
        Suggestion.Status.REVERTED.value: [],
    }
    for link_id, name, action, origin in changes:
        link = links.get(link_id)
        if link is None:
            continue
        key = tag_key(name)
        suggestion: Suggestion | None = open_by_pair.get((link_id, key))
        if action == TagDecision.Action.REMOVE and origin != TagOrigin.MODEL:
            suggestion = None  # a person's own tag taken off answers no suggestion
        if suggestion is not None:
            status = "accepted" if action == TagDecision.Action.ADD else "reverted"
            closed[status].append(suggestion.pk)
        who = actor or owners.get(link["owner_id"])
        rows.append(
            TagDecision(
                link_id=link_id,
                link_owner_id=link["owner_id"],
                link_url=link["url"][:2048],
                tag_name=name[:100],
                tag_key=key[:200],
                action=action,
                actor=who,
                actor_name=who.get_username() if who is not None else "unknown",
                source=source,
                suggestion=suggestion,
                model_version_id=suggestion.model_version_id if suggestion is not None else None,
                at=now,
            )
        )
    for status, ids in closed.items():
        if ids:
            Suggestion.objects.filter(pk__in=ids).update(status=status, decided_at=now)
            suggestion_decided(outcome=status, count=len(ids))
    TagDecision.objects.bulk_create(rows, batch_size=500)
    tag_decisions_written((row.action, row.source) for row in rows)
    return len(rows)


def auto_apply_record(*, link: Link, suggestion: Suggestion) -> TagDecision:
    """The model applied a tag on its own (score at or above the auto-apply threshold)."""
    return _write(
        link=link,
        tag_name=suggestion.tag_name,
        action=TagDecision.Action.AUTO_APPLY,
        actor=None,
        reason=f"score {suggestion.score:.3f} at or above the auto-apply threshold",
        source=TagDecision.Source.MODEL,
        suggestion=suggestion,
    )


def rejected_keys(*, link_ids: Sequence[int]) -> dict[int, set[str]]:
    """Tags a person rejected or took off a link, per link: the model never suggests them there
    again (a removal says "not this tag" as clearly as a rejection)."""
    out: dict[int, set[str]] = {}
    rows = TagDecision.objects.filter(
        link_id__in=link_ids, action__in=[TagDecision.Action.REJECT, TagDecision.Action.REMOVE]
    ).values_list("link_id", "tag_key")
    for link_id, key in rows:
        out.setdefault(link_id, set()).add(key)
    return out
