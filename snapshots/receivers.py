"""What the snapshots app does when the links app announces something (connected in apps.py)."""

from __future__ import annotations

from typing import Any

from . import services


def take_first_snapshots(*, link_ids: list[int], capture: bool = True, **kwargs: Any) -> None:
    """New links get their first snapshot: PENDING rows in the same transaction as the links, the
    renders queued once it commits (``capture`` off: the caller takes the snapshot itself)."""
    services.snapshots_request_for_new_links(link_ids=link_ids, capture=capture)
