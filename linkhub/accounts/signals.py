"""What the accounts app announces, for the apps built on it to act on (connected in their
``AppConfig.ready``; docs/architecture.md)."""

from __future__ import annotations

from django.dispatch import Signal

# A user's training consent changed (sent inside the transaction that recorded it). Arguments:
# ``user_id``, ``from_consent`` ("" for the first choice) and ``to_consent`` (none, own, shared).
consent_changed = Signal()

# The admin page of a user asks the apps above for what they hold about that user. Argument:
# ``user``. A receiver returns ``(title, html)`` (safe HTML), or None for nothing to show.
user_admin_panels = Signal()
