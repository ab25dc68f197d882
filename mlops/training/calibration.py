"""Turning raw per-tag scores into probabilities.

One Platt map (``sigmoid(a * logit(raw) + b)``) is fitted on every (example, tag) pair of
out-of-fold raw scores pooled together: per-tag maps would be fitted on a handful of positives
each (the median tag has 15 examples in the shared dataset). The map is strictly increasing,
so it never changes the ranking of tags: recall@k, precision@k and LRAP are the same before and
after calibration, only the probabilities (ECE, thresholded F1) move. Isotonic regression was
left out for that reason: it flattens scores into ties, and ties reorder the top k.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

__all__ = ["PlattCalibrator", "logit", "sigmoid"]

_EPS = 1e-6


def logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return np.log(q / (1 - q))


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))


@dataclass
class PlattCalibrator:
    """``p = sigmoid(a * logit(raw) + b)``; the identity until fitted."""

    a: float = 1.0
    b: float = 0.0
    fitted: bool = False

    def fit(self, raw: np.ndarray, y: np.ndarray) -> PlattCalibrator:
        z = logit(raw).reshape(-1, 1)
        t = np.asarray(y).ravel().astype(np.int8)
        if t.min(initial=1) == t.max(initial=0):
            return self  # one class only: nothing to calibrate against
        lr = LogisticRegression(C=1e4, solver="lbfgs", max_iter=1000)
        lr.fit(z, t)
        a = float(lr.coef_[0, 0])
        if a > 0:  # a non-increasing map would reorder tags; keep the identity then
            self.a, self.b, self.fitted = a, float(lr.intercept_[0]), True
        return self

    def transform(self, raw: np.ndarray) -> np.ndarray:
        if not self.fitted:
            return np.asarray(raw, dtype=np.float64)
        return sigmoid(self.a * logit(raw) + self.b)
