"""What the links app announces, for the apps built on it (snapshots, mlops) to act on.

This app knows nothing of the apps above it: it sends these signals inside the transaction that
made the change, and a higher app connects a receiver in its ``AppConfig.ready``. A receiver holds
no rules: it queues a task once the transaction commits, or calls one service of its own app that
writes its rows in the same transaction (a new link's PENDING snapshot). docs/architecture.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.dispatch import Signal

# New links were saved (one by one, or a batch of an import). Arguments: ``link_ids`` (list of
# int), ``capture`` (False when the caller takes care of the first snapshot itself).
links_created = Signal()

# Tags of links changed, or a decision about a tag was recorded: the audit rows just written, as
# ``changes`` (list of TagChange), in the order written.
tags_changed = Signal()


@dataclass(frozen=True)
class TagChange:
    decision_id: int
    link_id: int
    tag_key: str
    action: str  # TagDecision.Action
    origin: str  # TagOrigin the tag had before it was removed, or has after it was added ("" if none)
    suggestion_id: int | None  # the suggestion the caller said it answers, if any
