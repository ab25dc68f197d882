"""The offline metric names: every one is a key ``evaluate`` returns, and the gate's and the
headline's are among them."""

from __future__ import annotations

from mlops.training.data import Example
from mlops.training.metric_names import GATE_METRICS, HEADLINE_METRICS, OFFLINE_NAMES, metric_label
from mlops.training.metrics import evaluate_scores


def test_every_offline_metric_name_is_one_evaluate_returns():
    examples = [Example(url=f"https://e{i}.example", tags=["a"] if i % 2 else ["b"]) for i in range(6)]
    scores = [[0.9, 0.1] if i % 2 else [0.2, 0.7] for i in range(6)]
    result = evaluate_scores(scores, ["a", "b"], examples)
    assert set(OFFLINE_NAMES) <= set(result)
    assert set(GATE_METRICS) <= set(OFFLINE_NAMES) and "ece" not in GATE_METRICS
    assert set(HEADLINE_METRICS) <= set(GATE_METRICS)
    assert metric_label("recall_at_3") == "recall@3" and metric_label("n") == "n"
