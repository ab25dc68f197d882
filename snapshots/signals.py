"""What the snapshots app announces, for the apps built on it (mlops) to act on.

Sent inside the transaction that made the change; receivers (connected in the listening app's
``AppConfig.ready``) queue their work once it commits and hold no rules. docs/architecture.md.
"""

from __future__ import annotations

from django.dispatch import Signal

# A snapshot ended for good: SUCCEEDED (its text is on the link now) or FAILED (no more tries).
# Arguments: ``snapshot_id``, ``link_id``, ``status``, ``version`` (1 for a link's first snapshot).
snapshot_finished = Signal()
