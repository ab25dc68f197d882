"""Baselines every design has to beat: ``most_frequent`` and ``knn``.

``most_frequent`` (:class:`MostFrequent`): every link gets the same scores, each tag's share of
training examples (so the top k are the k most common tags). Its ``explain`` is always ``[]``:
no term of the link has any influence.

``knn`` (:class:`TfidfKnn`): cosine similarity on :class:`.features.TfidfFeatures` (rows
L2-normalised), the ``k`` most similar training links vote with their similarity:
``score(tag) = sum(sim of neighbours with tag) / sum(sim of all k neighbours)``. The votes are
used as probabilities as they are (no calibration). ``explain`` splits the cosine of the
neighbours that carry the tag over the shared features (``x_j * n_j`` summed), i.e. the words
this link has in common with its neighbours of that tag.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from .data import Example
from .designs import DEFAULT_MIN_EXAMPLES, Progress, TagModel, _top_positive
from .features import TfidfFeatures

__all__ = ["MostFrequent", "TfidfKnn"]


class MostFrequent(TagModel):
    """The same tags for every link; see the module docstring."""

    name = "most_frequent"
    defaults: ClassVar[dict[str, Any]] = {}

    frequencies: np.ndarray

    def fit(
        self,
        examples: Sequence[Example],
        *,
        min_examples: int = DEFAULT_MIN_EXAMPLES,
        progress: Progress | None = None,
    ) -> Self:
        y = self._start(examples, min_examples)
        self.frequencies = y.mean(axis=0).astype(np.float64)
        if progress:
            progress(1, 1, f"{self.name}: fitted")
        return self

    def predict_matrix(self, examples: Sequence[Example]) -> np.ndarray:
        return np.tile(self.frequencies, (len(examples), 1))

    def explain(self, example: Example, tag: str, k: int = 5) -> list[tuple[str, float]]:
        return []


class TfidfKnn(TagModel):
    """Nearest neighbours on TF-IDF, cosine, similarity-weighted votes; see the module docstring."""

    name = "knn"
    defaults: ClassVar[dict[str, Any]] = {"k": 10, "snapshot_chars": 2000, "batch_size": 2048}

    features: TfidfFeatures
    matrix: sp.csr_matrix
    y: np.ndarray

    def fit(
        self,
        examples: Sequence[Example],
        *,
        min_examples: int = DEFAULT_MIN_EXAMPLES,
        progress: Progress | None = None,
    ) -> Self:
        self.y = self._start(examples, min_examples).astype(np.float32)
        self.features = TfidfFeatures(snapshot_chars=self.params["snapshot_chars"]).fit(examples)
        self.matrix = normalize(self.features.transform(examples)).astype(np.float32)
        self.__dict__.pop("_matrix_t", None)
        if progress:
            progress(1, 1, f"{self.name}: indexed {len(examples)} examples")
        return self

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_matrix_t", None)
        return state

    def _neighbours(self, examples: Sequence[Example]) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix]:
        x = normalize(self.features.transform(examples)).astype(np.float32)
        k = min(int(self.params["k"]), self.matrix.shape[0])
        idx = np.zeros((x.shape[0], k), dtype=np.int64)
        sims = np.zeros((x.shape[0], k), dtype=np.float32)
        step = int(self.params["batch_size"])
        matrix_t = self.__dict__.get("_matrix_t")
        if matrix_t is None:  # csr @ (csr.T) converted the whole index on every call
            matrix_t = self.__dict__["_matrix_t"] = self.matrix.T.tocsr()
        for start in range(0, x.shape[0], step):
            block = (x[start : start + step] @ matrix_t).toarray()
            part = np.argpartition(-block, k - 1, axis=1)[:, :k]
            order = np.take_along_axis(block, part, axis=1)
            idx[start : start + step] = part
            sims[start : start + step] = np.maximum(order, 0.0)
        return idx, sims, x

    def predict_matrix(self, examples: Sequence[Example]) -> np.ndarray:
        if not examples:
            return np.zeros((0, len(self.labels)))
        idx, sims, _ = self._neighbours(examples)
        votes = np.einsum("nk,nkl->nl", sims, self.y[idx])
        total = sims.sum(axis=1, keepdims=True)
        share = np.divide(votes, total, out=np.zeros_like(votes), where=total > 0).astype(np.float64)
        return np.clip(share, 0.0, 1.0)  # float32 sums can land a hair above 1

    def explain(self, example: Example, tag: str, k: int = 5) -> list[tuple[str, float]]:
        """Shared features with the neighbours that carry the tag, as shares of the score."""
        j = self._label_index(tag)
        if j is None:
            return []
        idx, sims, _x = self._neighbours([example])
        total = float(sims.sum())
        carriers = [int(i) for i in idx[0] if self.y[i, j] > 0]
        if not carriers or total <= 0:
            return []
        weights = np.asarray(self.matrix[carriers].sum(axis=0)).ravel()
        raw_norm = float(sp.linalg.norm(self.features.transform([example])))
        weights = weights / (total * max(raw_norm, 1e-12))
        return _top_positive(self.features.term_contributions(example, weights), k)
