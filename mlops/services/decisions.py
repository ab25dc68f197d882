"""Decisions on the model's suggestions, and suggestions answered by people's tag changes.

The tags themselves and their audit rows belong to the links app: every change goes through
``linkhub.links.services`` (``link_tag_decide`` for one decision), which writes the append-only
``TagDecision`` in the same transaction. This module adds what only the model knows about:

- ``decide``: an explicit decision from the suggestion chips, ``POST /api/links/{id}/decisions/``
  or the admin's review queue. Owners decide on their own links; reviewers on anyone's, with a
  reason. The decision names the suggestion it answers, and closes it, in one transaction.
- ``suggestions_answer``: a person's other tag changes (an edit, a bulk action, an import, a merge)
  answer open suggestions too: a tag added that was suggested is accepted, a tag the model applied
  and a person took off is reverted. The links app announces the changes; a task calls this.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from linkhub.accounts.roles import is_reviewer
from linkhub.links import services as link_services
from linkhub.links.models import Link, TagDecision, TaggedLink, TagOrigin, tag_key
from linkhub.metrics import suggestion_decided

from ..models import Suggestion

Action = TagDecision.Action
ACTIONS = tuple(a.value for a in Action if a != Action.AUTO_APPLY)
OPEN = (Suggestion.Status.PROPOSED, Suggestion.Status.AUTO_APPLIED)


def can_decide(user: User, link: Link) -> bool:
    return link.owner_id == user.pk or is_reviewer(user) or user.is_superuser


def _check_rights(*, link: Link, actor: User, reason: str) -> None:
    if link.owner_id == actor.pk:
        return
    if not (is_reviewer(actor) or actor.is_superuser):
        raise PermissionDenied("Only the link's owner or a reviewer may decide its tags.")
    if not reason:
        raise ValidationError({"reason": "A reviewer deciding on another user's link must give a reason."})


def _open_suggestion(link_id: int, key: str) -> Suggestion | None:
    return (
        Suggestion.objects.select_for_update()
        .filter(link_id=link_id, tag_key=key, visible=True, status__in=OPEN)
        .order_by("-created_at")
        .first()
    )


def _answer(suggestion: Suggestion, *, action: str, model_applied: bool) -> str | None:
    """The status a decision gives the open suggestion of its tag, or None if it leaves it open."""
    if action in (Action.ACCEPT, Action.ADD):
        return Suggestion.Status.ACCEPTED
    if action == Action.REJECT:
        if suggestion.status == Suggestion.Status.AUTO_APPLIED:
            return Suggestion.Status.REVERTED
        return Suggestion.Status.REJECTED
    if action == Action.REMOVE and model_applied:
        return Suggestion.Status.REVERTED
    return None  # a person's own tag taken off answers no suggestion


def _close(suggestion: Suggestion, status: str, decision: TagDecision) -> None:
    suggestion.status = status
    suggestion.decided_at = decision.at
    suggestion.decision_id = decision.pk
    suggestion.save(update_fields=["status", "decided_at", "decision"])
    suggestion_decided(outcome=status)
    # Older open suggestions of the same tag (from earlier versions) are answered too.
    Suggestion.objects.filter(
        link_id=suggestion.link_id, tag_key=suggestion.tag_key, visible=True, status__in=OPEN
    ).exclude(pk=suggestion.pk).update(status=Suggestion.Status.EXPIRED, decided_at=decision.at)


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
    """One decision on one tag of one link, the suggestion it answers closed, together or not at all."""
    if action not in ACTIONS:
        raise ValidationError({"action": f"Use one of: {', '.join(ACTIONS)}."})
    names = link_services.tag_names_clean([tag])
    if len(names) != 1:
        raise ValidationError({"tag": "Name exactly one tag."})
    name, reason = names[0], (reason or "").strip()
    _check_rights(link=link, actor=actor, reason=reason)
    key = tag_key(name)
    suggestion = _open_suggestion(link.pk, key)
    if action == Action.ACCEPT and suggestion is None:
        raise ValidationError({"tag": f"There is no open suggestion of {name!r} for this link."})
    model_applied = TaggedLink.objects.filter(
        content_object_id=link.pk, tag__key=key, origin=TagOrigin.MODEL
    ).exists()
    status = _answer(suggestion, action=action, model_applied=model_applied) if suggestion else None
    answered = suggestion if status is not None else None
    decided = link_services.link_tag_decide(
        link=link,
        name=suggestion.tag_name if action == Action.ACCEPT and suggestion else name,
        action=action,
        actor=actor,
        reason=reason,
        source=source,
        suggestion_id=answered.pk if answered else None,
        model_version_id=answered.model_version_id if answered else None,
    )
    if answered is not None and status is not None:
        _close(answered, status, decided.decision)
    return decided.decision


@transaction.atomic
def suggestions_answer(*, changes: Sequence[tuple[int, str]]) -> int:
    """Close the open suggestions that people's tag changes answered: ``changes`` as (decision
    id, origin of the tag: after an add, before a removal). Returns how many it closed."""
    origins = dict(changes)
    decisions = {
        d.pk: d
        for d in TagDecision.objects.filter(
            pk__in=list(origins), action__in=[Action.ADD, Action.REMOVE], suggestion_id__isnull=True
        )
    }
    if not decisions:
        return 0
    open_by_pair: dict[tuple[int, str], Suggestion] = {}
    for row in (
        Suggestion.objects.select_for_update()
        .filter(
            link_id__in={d.link_id for d in decisions.values()},
            tag_key__in={d.tag_key for d in decisions.values()},
            visible=True,
            status__in=OPEN,
        )
        .order_by("created_at")
    ):
        open_by_pair[(row.link_id, row.tag_key)] = row  # the newest wins
    closed = 0
    for decision in sorted(decisions.values(), key=lambda d: (d.at, d.pk)):
        suggestion = open_by_pair.get((decision.link_id, decision.tag_key))
        if suggestion is None or suggestion.status not in OPEN:
            continue
        model_applied = origins[decision.pk] == TagOrigin.MODEL
        status = _answer(suggestion, action=decision.action, model_applied=model_applied)
        if status is not None:
            _close(suggestion, status, decision)
            closed += 1
    return closed


def rejected_keys(*, link_ids: Sequence[int]) -> dict[int, set[str]]:
    """Tags a person rejected or took off a link, per link: the model never suggests them there
    again (a removal says "not this tag" as clearly as a rejection)."""
    out: dict[int, set[str]] = {}
    rows = TagDecision.objects.filter(
        link_id__in=link_ids, action__in=[Action.REJECT, Action.REMOVE]
    ).values_list("link_id", "tag_key")
    for link_id, key in rows:
        out.setdefault(link_id, set()).add(key)
    return out
