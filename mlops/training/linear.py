"""Linear designs on sparse text features: ``tfidf_lr`` and ``hashing_sgd``.

``tfidf_lr`` (:class:`TfidfLogReg`): :class:`.features.TfidfFeatures` (word 1-2-grams, char_wb
3-5-grams, domain) and one binary logistic regression per tag (liblinear, ``class_weight=
"balanced"``: a tag has ~1% positives, and unweighted LR ranks rare tags too low). C=30: in
4-fold CV on the training part C=3, 10, 30, 100 gave LRAP 0.638, 0.647, 0.655, 0.658; 30 is
within noise of 100 and regularises more. A list as ``C`` is searched by CV at fit time. Calibrated as every
``_CalibratedModel``. ``explain`` is exact: each word's share of ``x_j * w_j`` (log-odds units).

``hashing_sgd`` (:class:`HashingSgd`): :class:`.features.HashedFeatures` (no vocabulary) and one
``SGDClassifier(loss="log_loss")`` per tag, kept in a dict keyed by tag. ``partial_fit(examples)``
updates every known tag's classifier with one pass over the new examples and creates a
classifier for any tag it has not seen before. Because features are hashed and classifiers are
per tag, a new tag or a new word needs no change of shape anywhere. A new tag's classifier is
first trained on a replay buffer (a seeded reservoir sample, ``replay_size`` rows, of everything
seen so far) together with the new examples, so it also learns what the tag is *not*. A tag
joins ``labels`` once ``min_examples`` examples carried it (counted over fit and every
partial_fit); the Platt map fitted by ``fit`` is kept until the next ``fit``. Coefficients are
kept sparse (``sparsify``): SGD's L2 scaling leaves never-seen hash columns at exactly zero, so a
model costs memory in proportion to the n-grams it has seen, not to 2**n_bits.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression, SGDClassifier
from threadpoolctl import threadpool_limits

from .calibration import PlattCalibrator, sigmoid
from .data import Example, label_counts
from .designs import DEFAULT_MIN_EXAMPLES, Progress, _CalibratedModel, _top_positive, select_labels
from .features import HashedFeatures, TfidfFeatures

__all__ = ["HashingSgd", "TfidfLogReg", "fit_ovr_logreg"]

_ABSENT_LOGIT = -12.0  # a tag with no positive example in a fold gets ~6e-6, not a fitted guess


def fit_ovr_logreg(
    x: Any, y: np.ndarray, *, C: float, class_weight: str | None, solver: str = "liblinear"
) -> tuple[np.ndarray, np.ndarray]:
    """One binary LR per column of ``y``; returns ``(W (n_labels, n_features) float32, b)``."""
    n_labels = y.shape[1]
    w = np.zeros((n_labels, x.shape[1]), dtype=np.float32)
    b = np.full(n_labels, _ABSENT_LOGIT, dtype=np.float64)
    # One BLAS thread: these are many small problems, and on a busy 2-core machine threaded BLAS
    # made the embedding head's fit ten times slower (measured, docs/tag-model.md).
    with threadpool_limits(limits=1, user_api="blas"):
        for j in range(n_labels):
            col = y[:, j]
            n_pos = int(col.sum())
            if n_pos == 0:
                continue
            if n_pos == len(col):
                b[j] = -_ABSENT_LOGIT
                continue
            lr = LogisticRegression(C=C, class_weight=class_weight, solver=solver, max_iter=1000)
            lr.fit(x, col)
            w[j] = lr.coef_[0]
            b[j] = lr.intercept_[0]
    return w, b


class TfidfLogReg(_CalibratedModel):
    """TF-IDF + one-vs-rest logistic regression; see the module docstring."""

    name = "tfidf_lr"
    defaults: ClassVar[dict[str, Any]] = {
        "C": 30.0,
        "class_weight": "balanced",
        "calibration_folds": 3,
        "char_ngrams": (3, 5),
        "max_features": 100_000,
        "snapshot_chars": 2000,
    }

    features: TfidfFeatures
    coef: np.ndarray
    intercept: np.ndarray

    def _fit_raw(self, examples: Sequence[Example], y: np.ndarray) -> None:
        p = self.params
        self.features = TfidfFeatures(
            snapshot_chars=p["snapshot_chars"],
            char_ngrams=tuple(p["char_ngrams"]) if p["char_ngrams"] else None,
            max_features=p["max_features"],
        ).fit(examples)
        x = self.features.transform(examples)
        self.coef, self.intercept = fit_ovr_logreg(x, y, C=float(p["C"]), class_weight=p["class_weight"])
        self.__dict__.pop("_coef_t", None)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_coef_t", None)
        return state

    def _raw(self, examples: Sequence[Example]) -> np.ndarray:
        # sparse @ (coef.T view) made scipy copy the whole coefficient matrix on every call
        # (~40 ms per link at 10,000 training links); keep one C-ordered transpose instead
        coef_t = self.__dict__.get("_coef_t")
        if coef_t is None:
            coef_t = self.__dict__["_coef_t"] = np.ascontiguousarray(self.coef.T)
        x = self.features.transform(examples)
        return sigmoid(np.asarray(x @ coef_t) + self.intercept)

    def explain(self, example: Example, tag: str, k: int = 5) -> list[tuple[str, float]]:
        """Words (and the domain) with the largest positive ``x_j * w_j`` for the tag, in log-odds."""
        j = self._label_index(tag)
        if j is None:
            return []
        return _top_positive(self.features.term_contributions(example, self.coef[j]), k)


class HashingSgd(_CalibratedModel):
    """Hashed features + per-tag SGD log-loss classifiers with ``partial_fit``; see module docstring."""

    name = "hashing_sgd"
    defaults: ClassVar[dict[str, Any]] = {
        "n_bits": 16,
        "alpha": 1e-4,
        "average": False,
        "epochs": 8,
        "max_positive_weight": 20.0,
        "calibration_folds": 3,
        "replay_size": 2000,
        "snapshot_chars": 2000,
        "seed": 0,
    }

    features: HashedFeatures
    classifiers: dict[str, SGDClassifier]
    tag_counts: Counter[str]
    replay_x: sp.csr_matrix | None
    replay_tags: list[list[str]]
    seen: int

    def _new_classifier(self) -> SGDClassifier:
        return SGDClassifier(
            loss="log_loss",
            alpha=float(self.params["alpha"]),
            average=bool(self.params["average"]),
            random_state=int(self.params["seed"]),
        )

    def _weights(self, y: np.ndarray) -> np.ndarray:
        n_pos = max(int(y.sum()), 1)
        pos_weight = min(max((len(y) - n_pos) / n_pos, 1.0), float(self.params["max_positive_weight"]))
        return np.where(y == 1, pos_weight, 1.0)

    def _train_one(
        self, clf: SGDClassifier, x: sp.csr_matrix, y: np.ndarray, epochs: int, rng: np.random.Generator
    ) -> None:
        if sp.issparse(clf.__dict__.get("coef_")):
            clf.densify()
        weights = self._weights(y)
        for _ in range(epochs):
            order = rng.permutation(len(y))
            clf.partial_fit(x[order], y[order], classes=np.array([0, 1]), sample_weight=weights[order])
        clf.sparsify()

    def _fit_raw(self, examples: Sequence[Example], y: np.ndarray) -> None:
        self.features = HashedFeatures(
            snapshot_chars=self.params["snapshot_chars"], n_bits=self.params["n_bits"]
        ).fit(examples)
        x = self.features.transform(examples)
        rng = np.random.default_rng(int(self.params["seed"]))
        self.classifiers = {}
        self.__dict__.pop("_stack", None)
        for j, tag in enumerate(self.labels):
            clf = self._new_classifier()
            self._train_one(clf, x, y[:, j].astype(np.int64), int(self.params["epochs"]), rng)
            self.classifiers[tag] = clf
        self.tag_counts = label_counts(examples)
        self.seen = 0
        self.replay_x, self.replay_tags = None, []
        self._remember(x, [ex.tags for ex in examples])

    def _remember(self, x: sp.csr_matrix, tags: list[list[str]]) -> None:
        """Reservoir sampling (algorithm R) of rows into the replay buffer, seeded.

        Every row seen so far had the same chance to be kept; order inside the buffer is
        irrelevant, so old and new rows are stacked once at the end.
        """
        size = int(self.params["replay_size"])
        rng = random.Random(int(self.params["seed"]) * 1_000_003 + self.seen)
        old_n = self.replay_x.shape[0] if self.replay_x is not None else 0
        slots: list[tuple[bool, int]] = [(False, i) for i in range(old_n)]  # (is_new, row)
        slot_tags = list(self.replay_tags)
        for i in range(x.shape[0]):
            self.seen += 1
            if len(slots) < size:
                slots.append((True, i))
                slot_tags.append(tags[i])
            else:
                slot = rng.randrange(self.seen)
                if slot < size:
                    slots[slot] = (True, i)
                    slot_tags[slot] = tags[i]
        old_rows = [(r, t) for (is_new, r), t in zip(slots, slot_tags, strict=True) if not is_new]
        new_rows = [(r, t) for (is_new, r), t in zip(slots, slot_tags, strict=True) if is_new]
        parts = []
        if old_rows and self.replay_x is not None:
            parts.append(self.replay_x[[r for r, _ in old_rows]])
        if new_rows:
            parts.append(x[[r for r, _ in new_rows]])
        self.replay_x = sp.vstack(parts, format="csr") if parts else None
        self.replay_tags = [t for _, t in old_rows] + [t for _, t in new_rows]

    def partial_fit(self, examples: Sequence[Example], *, epochs: int = 1) -> Self:
        """Learn from new examples without refitting; new tags get a classifier of their own."""
        if not examples:
            return self
        if not hasattr(self, "classifiers"):
            self.features = HashedFeatures(
                snapshot_chars=self.params["snapshot_chars"], n_bits=self.params["n_bits"]
            )
            self.classifiers, self.tag_counts, self.seen = {}, Counter(), 0
            self.replay_x, self.replay_tags = None, []
            self.calibrator = PlattCalibrator()
            self.info = {"n_train": 0}
        x = self.features.transform(examples)
        batch_tags = [ex.tags for ex in examples]
        rng = np.random.default_rng(int(self.params["seed"]) + self.seen)
        new_tags = sorted({t for tags in batch_tags for t in tags} - set(self.classifiers))
        for tag, clf in self.classifiers.items():
            y = np.array([int(tag in tags) for tags in batch_tags])
            self._train_one(clf, x, y, epochs, rng)
        for tag in new_tags:
            clf = self._new_classifier()
            if self.replay_x is not None:
                x_new = sp.vstack([self.replay_x, x], format="csr")
                tags_new = self.replay_tags + batch_tags
            else:
                x_new, tags_new = x, batch_tags
            y = np.array([int(tag in tags) for tags in tags_new])
            self._train_one(clf, x_new, y, int(self.params["epochs"]), rng)
            self.classifiers[tag] = clf
        self.__dict__.pop("_stack", None)
        self.tag_counts.update(label_counts(examples))
        self._remember(x, batch_tags)
        self.labels = sorted(t for t in self.classifiers if self.tag_counts[t] >= self.min_examples)
        self.info["n_train"] = self.info.get("n_train", 0) + len(examples)
        self.info["partial_fits"] = self.info.get("partial_fits", 0) + 1
        return self

    def fit(
        self,
        examples: Sequence[Example],
        *,
        min_examples: int = DEFAULT_MIN_EXAMPLES,
        progress: Progress | None = None,
    ) -> Self:
        super().fit(examples, min_examples=min_examples, progress=progress)
        self.labels = select_labels(examples, min_examples)
        return self

    def _stacked(self) -> tuple[sp.csr_matrix, np.ndarray]:
        """All label classifiers as one sparse (n_features, n_labels) matrix, for one product."""
        cached = self.__dict__.get("_stack")
        if cached is None or cached[0] != self.labels:
            coefs = [self.classifiers[tag].coef_ for tag in self.labels]
            w = sp.vstack([c if sp.issparse(c) else sp.csr_matrix(c) for c in coefs], format="csr").T.tocsr()
            b = np.array([float(self.classifiers[tag].intercept_[0]) for tag in self.labels])
            cached = (list(self.labels), w, b)
            self.__dict__["_stack"] = cached
        return cached[1], cached[2]

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_stack", None)
        return state

    def _raw(self, examples: Sequence[Example]) -> np.ndarray:
        w, b = self._stacked()
        x = self.features.transform(examples)
        return sigmoid(np.asarray((x @ w).todense()) + b)

    def explain(self, example: Example, tag: str, k: int = 5) -> list[tuple[str, float]]:
        """Exact ``x_j * w_j`` per word, like tfidf_lr (the hash columns are recomputed per word)."""
        j = self._label_index(tag)
        if j is None:
            return []
        coef = self.classifiers[self.labels[j]].coef_
        dense = np.asarray(coef.toarray() if sp.issparse(coef) else coef).ravel()
        return _top_positive(self.features.term_contributions(example, dense), k)
