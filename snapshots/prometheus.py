"""What the snapshots app adds to the Prometheus metrics (the catalogue is in ``linkhub/metrics.py``)."""

from __future__ import annotations

from linkhub.metrics import SNAPSHOTS, series_start_register

from .models import FailureReason


def _failure_series() -> None:
    """Every failure reason's series starts at zero in a worker (see ``linkhub.metrics``)."""
    for reason in FailureReason.values:
        SNAPSHOTS.labels(outcome="suspect" if reason == FailureReason.SUSPECT else "failed", reason=reason)


def register() -> None:
    series_start_register(_failure_series)
