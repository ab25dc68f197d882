"""The offline metrics of a tag model by name: the one list that training stores, the promotion
gate compares, and pages, the admin, cards and commands show.

It imports nothing (no numpy, no scikit-learn), so anything may use it cheaply. How each metric
is computed is in :mod:`.metrics`; ``evaluate`` returns these keys and more (``n``,
``micro_f1_top1``, ``recall_at_3_in_labels``, ``per_tag``...), which are kept with a version but
not listed here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "GATE_METRICS",
    "HEADLINE_METRICS",
    "OFFLINE_METRICS",
    "OFFLINE_NAMES",
    "OfflineMetric",
    "metric_label",
]


@dataclass(frozen=True)
class OfflineMetric:
    name: str  # the key in a version's metrics; "offline_<name>" as a metric point
    label: str  # short, for table columns and chart legends
    meaning: str  # one line, for model cards
    higher_is_better: bool = True


OFFLINE_METRICS: tuple[OfflineMetric, ...] = (
    OfflineMetric(
        "precision_at_1", "precision@1", "share of links whose top suggestion is one of their tags"
    ),
    OfflineMetric("precision_at_3", "precision@3", "share of the top three suggestions that are right"),
    OfflineMetric("recall_at_3", "recall@3", "share of a link's tags found among the top three"),
    OfflineMetric("recall_at_5", "recall@5", "share of a link's tags found among the top five"),
    OfflineMetric("micro_f1", "micro F1", "F1 over every (link, tag) decision at the threshold"),
    OfflineMetric("macro_f1", "macro F1", "F1 averaged over tags, each counting the same"),
    OfflineMetric("lrap", "LRAP", "label ranking average precision"),
    OfflineMetric("ece", "ECE", "expected calibration error (lower is better)", higher_is_better=False),
)
OFFLINE_NAMES: tuple[str, ...] = tuple(metric.name for metric in OFFLINE_METRICS)

# The gate asks "better than production, or no worse by more than the tolerance", which reads
# the right way round only where higher is better; calibration error is shown, not gated.
GATE_METRICS: tuple[str, ...] = tuple(metric.name for metric in OFFLINE_METRICS if metric.higher_is_better)

# Where a row or a chart has room for a few (the dashboard's offline chart, the lists of versions
# in the admin and on the model page): the default primary metric first.
HEADLINE_METRICS: tuple[str, ...] = ("recall_at_3", "precision_at_1", "micro_f1", "macro_f1")

_LABELS = {metric.name: metric.label for metric in OFFLINE_METRICS}


def metric_label(name: str) -> str:
    """The short label of an offline metric (the name itself for one not listed here)."""
    return _LABELS.get(name, name)
