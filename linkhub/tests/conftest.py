"""Fixtures of the project-level tests."""

from __future__ import annotations

import pytest

from mlops.tests.conftest import make_version, owner_of_models, suggest  # noqa: F401 - reused


@pytest.fixture(autouse=True)
def _metrics_from_zero():
    """Every test starts from what it counts itself: earlier tests of the run counted in this
    process too, and a live server's /metrics would show it."""
    from linkhub import metrics

    metrics.values_clear()
