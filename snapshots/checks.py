"""Settings that would make the snapshot queue misbehave, refused by ``manage.py check`` (which
the run command's migrate and the test suite run too)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error

from .renderer.browser import HEARTBEAT_SECONDS

LEASE_HEARTBEATS = 3  # a lease must outlast this many missed heartbeats


def lease_outlasts_heartbeats(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """A lease shorter than a few heartbeats makes the sweep take live renders for lost ones:
    duplicate renders, and attempts used up on pages that were fine."""
    least = LEASE_HEARTBEATS * HEARTBEAT_SECONDS
    if settings.SNAPSHOT_LEASE_SECONDS >= least:
        return []
    return [
        Error(
            f"SNAPSHOT_LEASE_SECONDS is {settings.SNAPSHOT_LEASE_SECONDS}; it must be at least {least:g} "
            f"({LEASE_HEARTBEATS} heartbeats of {HEARTBEAT_SECONDS:g} s), or the sweep fails renders "
            "that are still running.",
            id="snapshots.E001",
        )
    ]
