"""Evaluation of a tag model on labelled examples.

Definitions (``true`` is an example's set of human tags, ``top_k`` the model's k best tags):

* ``recall_at_k`` = mean over examples of ``|top_k ∩ true| / |true|`` with ``true`` = **all** the
  example's tags, including tags the model cannot predict (fewer than ``min_examples`` training
  examples). An example whose tags are all outside the label set counts with recall 0. Examples
  with no tag at all are skipped (recall is undefined) by every metric. ``recall_at_k_in_labels``
  is the figure with ``true`` restricted to the label set, over the examples that keep at least
  one tag; it is the more flattering number and is reported beside the honest one.
* ``precision_at_k`` = mean of ``|top_k ∩ true| / k`` (so with one true tag, p@3 is at most 1/3).
* ``micro_f1``/``macro_f1``/``per_tag``: the decision is ``score >= threshold`` (default 0.5 on
  the calibrated probabilities, the rule an auto-apply policy would use). Micro-F1 counts true
  tags outside the label set as misses; macro-F1 averages the F1 of the label-set tags.
  ``micro_f1_top1`` decides "the single best tag" instead, which suits almost single-label data.
* ``lrap``: sklearn's ``label_ranking_average_precision_score`` over the label set, on the
  examples with at least one label-set tag (sklearn scores an example without one as 1.0);
  computed by :func:`ranking_average_precision`, a vectorised equivalent (tested against sklearn).
* ``ece``: expected calibration error over every (example, label) score, 10 equal-width bins:
  ``sum_b n_b / N * |mean(score in b) - share of true pairs in b|``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .data import Example

if TYPE_CHECKING:
    from .designs import TagModel

__all__ = [
    "evaluate",
    "evaluate_scores",
    "expected_calibration_error",
    "label_matrix",
    "ranking_average_precision",
    "top_k",
]


def label_matrix(examples: Sequence[Example], labels: Sequence[str]) -> np.ndarray:
    """Binary matrix ``(n_examples, n_labels)``: 1 where the example carries the label."""
    index = {tag: j for j, tag in enumerate(labels)}
    y = np.zeros((len(examples), len(labels)), dtype=np.int8)
    for i, ex in enumerate(examples):
        for tag in ex.tags:
            j = index.get(tag)
            if j is not None:
                y[i, j] = 1
    return y


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the k best scores per row, best first (ties broken by column order)."""
    k = min(k, scores.shape[1])
    if k <= 0:
        return np.zeros((scores.shape[0], 0), dtype=np.int64)
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def expected_calibration_error(scores: np.ndarray, y: np.ndarray, n_bins: int = 10) -> float:
    """ECE over all entries of ``scores`` against the 0/1 ``y`` of the same shape."""
    p = np.clip(np.asarray(scores, dtype=np.float64).ravel(), 0.0, 1.0)
    t = np.asarray(y, dtype=np.float64).ravel()
    if p.size == 0:
        return 0.0
    bins = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            total += mask.sum() / p.size * abs(p[mask].mean() - t[mask].mean())
    return float(total)


def ranking_average_precision(scores: np.ndarray, y: np.ndarray) -> float:
    """sklearn's ``label_ranking_average_precision_score`` (same tie rule), vectorised.

    Rows without a relevant label are skipped (sklearn would count them as 1.0). Used where
    many candidate blends are compared: sklearn's version loops over rows in Python.
    """
    s = np.asarray(scores, dtype=np.float64)
    t = np.asarray(y).astype(bool)
    keep = t.any(axis=1)
    s, t = s[keep], t[keep]
    if not len(s):
        return 0.0
    rows, cols = np.nonzero(t)
    at_least = s[rows] >= s[rows, cols][:, None]  # labels ranked at or above each relevant one
    precision = (at_least & t[rows]).sum(axis=1) / at_least.sum(axis=1)
    per_row = np.bincount(rows, precision, minlength=len(s)) / np.bincount(rows, minlength=len(s))
    return float(per_row.mean())


def _f1(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def evaluate_scores(
    scores: np.ndarray,
    labels: Sequence[str],
    examples: Sequence[Example],
    k_values: Sequence[int] = (1, 3, 5),
    threshold: float = 0.5,
) -> dict[str, Any]:
    """All metrics of the module docstring from a score matrix ``(len(examples), len(labels))``."""
    labels = list(labels)
    scores = np.asarray(scores, dtype=np.float64).reshape(len(examples), len(labels))
    keep = [i for i, ex in enumerate(examples) if ex.tags]
    exs = [examples[i] for i in keep]
    s = scores[keep]
    y = label_matrix(exs, labels)
    n = len(exs)
    out: dict[str, Any] = {"n": n, "n_labels": len(labels), "threshold": threshold}
    in_labels = y.sum(axis=1) > 0
    out["coverage"] = float(in_labels.mean()) if n else 0.0
    true_sets = [set(ex.tags) for ex in exs]
    label_arr = np.array(labels, dtype=object)
    for k in sorted({*k_values, 1, 3, 5}):
        hits = np.array(
            [
                len(true & set(label_arr[row].tolist()))
                for true, row in zip(true_sets, top_k(s, k), strict=True)
            ],
            dtype=np.float64,
        )
        n_true = np.array([len(t) for t in true_sets], dtype=np.float64)
        n_in = y.sum(axis=1).astype(np.float64)
        out[f"precision_at_{k}"] = float((hits / k).mean()) if n else 0.0
        out[f"recall_at_{k}"] = float((hits / n_true).mean()) if n else 0.0
        out[f"recall_at_{k}_in_labels"] = (
            float((hits[in_labels] / n_in[in_labels]).mean()) if in_labels.any() else 0.0
        )

    decided = s >= threshold
    outside = float(sum(len(t - set(labels)) for t in true_sets))  # true tags no model can predict
    tp = float((decided & (y == 1)).sum())
    fp = float((decided & (y == 0)).sum())
    fn = float(((~decided) & (y == 1)).sum()) + outside
    out["micro_precision"], out["micro_recall"], out["micro_f1"] = _f1(tp, fp, fn)
    best = np.zeros_like(decided)
    if len(labels) and n:
        best[np.arange(n), s.argmax(axis=1)] = True
    tp1 = float((best & (y == 1)).sum())
    out["micro_f1_top1"] = _f1(
        tp1, float((best & (y == 0)).sum()), float(((~best) & (y == 1)).sum()) + outside
    )[2]

    per_tag: dict[str, dict[str, float]] = {}
    for j, tag in enumerate(labels):
        col_tp = float((decided[:, j] & (y[:, j] == 1)).sum())
        col_fp = float((decided[:, j] & (y[:, j] == 0)).sum())
        col_fn = float(((~decided[:, j]) & (y[:, j] == 1)).sum())
        p, r, f = _f1(col_tp, col_fp, col_fn)
        per_tag[tag] = {"precision": p, "recall": r, "f1": f, "support": int(y[:, j].sum())}
    out["macro_f1"] = float(np.mean([v["f1"] for v in per_tag.values()])) if per_tag else 0.0
    out["per_tag"] = per_tag

    out["lrap"] = ranking_average_precision(s, y) if len(labels) > 1 else 0.0
    out["ece"] = expected_calibration_error(s, y)
    return out


def evaluate(
    model: TagModel,
    examples: Sequence[Example],
    k_values: Sequence[int] = (1, 3, 5),
    threshold: float = 0.5,
) -> dict[str, Any]:
    """Score ``examples`` with ``model`` and return :func:`evaluate_scores`'s metrics."""
    return evaluate_scores(model.predict_matrix(examples), model.labels, examples, k_values, threshold)
