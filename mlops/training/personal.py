"""The personal tag model: one small model per user, over cached sentence embeddings.

A personal model knows one user's vocabulary and nothing else. For each of the user's tags it
keeps:

- the sum of the embeddings of the user's links that carry the tag (the positive prototype), and
  how many there are;
- the sum of the embeddings of links where the user rejected or removed the tag (the negative
  prototype), and how many;
- the embedding of the tag's name.

A link ``x`` (unit vector) is scored for tag ``t`` from seven features::

    cos(x, positive prototype)      (0 when the tag has no link yet)
    cos(x, negative prototype)      (0 when nothing was rejected)
    cos(x, tag name)
    log(1 + links with the tag)
    has links with the tag (0/1)
    margin of the positive cosine   (minus the best of the user's other tags)
    margin of the name cosine       (likewise)

through a logistic map ``sigmoid(w . f + b)``. The cosines say whether a tag fits at all, the
margins which of the user's tags fits best. The weights start from defaults fitted once on users
simulated from the shared dataset (``DEFAULT_WEIGHTS``, how in ``bench/personal.py
--fit-defaults``); a full
retrain fits the user's own weights on leave-one-out features of their links and shrinks them
towards the defaults in proportion to how little data the user has.

Why this design (docs/tag-model.md, "Personal models"):

- **Incremental by construction.** A decision adds or subtracts one vector from a sum:
  :meth:`PersonalModel.learn` costs microseconds and needs no retraining. A full retrain
  (:func:`fit`) recomputes the sums from scratch, so nothing drifts, and refits the weights.
- **Small.** One 384-d 8-bit direction per tag and prototype, and the tag name's: under 1 KB
  per tag (a user with 60 tags: tens of kilobytes), whatever the number of links. No example
  vector is stored.
- **Fast.** A full fit is one matrix product for the sums (20 ms for 1,000 links) and one
  logistic regression over seven features (about 0.3 s for 1,000 links with 60 tags, 1.8 s for
  10,000; bench/personal.py); the embeddings are computed once per link and cached.
- **Zero-shot is the same model with no links**: before a user has tagged anything, only the
  tag-name feature is live (:func:`zero_shot`), with its own default weights.

The module is pure numpy (plus scikit-learn for the weights' fit); the encoder is not loaded here:
callers pass vectors.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

FORMAT_VERSION = 1
MAGIC = b"LHPM1\n"
N_FEATURES = 7
FEATURES = (
    "cos_positive",
    "cos_negative",
    "cos_name",
    "log_links",
    "has_links",
    "margin_positive",  # cos_positive minus the best cos_positive of the user's other tags
    "margin_name",  # cos_name minus the best cos_name of the user's other tags
)
# Fitted on leave-one-out features of 132 users simulated from the shared dataset
# (bench/personal.py --fit-defaults prints them): 2 to 30 tags each, 20 to 120 links, 80% of
# them carrying one of the user's tags and 20% none, so that the weights learn both which of a
# user's tags fits best (the margins) and whether any fits at all (the cosines). The order is
# FEATURES, then the intercept.
DEFAULT_WEIGHTS = (4.87, -0.2, 3.32, -0.07, -4.46, 8.54, 4.41, 0.13)
# The dataset has no rejections: the weight of cos_negative is the one the replay's users put on
# it (-0.2, from 325 rejected pairs; bench/personal.py --fit-defaults). A hand-set -4 cost 0.01
# recall@3 on the replay. The rejected tag itself is never suggested again on its link anyway.
# Zero-shot: only cos(x, tag name) and its margin count (same fit).
ZERO_SHOT_WEIGHTS = (0.0, 0.0, 5.54, 0.0, 0.0, 0.0, 9.55, -3.2)
# A user's own weights count as much as the defaults once they rest on this many positive pairs.
SHRINK_PAIRS = 200


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.divide(v, norm, out=np.zeros_like(v), where=norm > 0)


def defaults_for(n_tags: int, weights: Sequence[float] = DEFAULT_WEIGHTS) -> np.ndarray:
    """The default weights for a vocabulary of ``n_tags`` tags: the simulated users they were
    fitted on had 2 to 30 tags, so one set serves every size (the margins carry the size)."""
    return np.asarray(weights, dtype=np.float64).copy()


def _q8(name: str, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Rows as int8 with one float32 scale each (symmetric, per-row max)."""
    rows = np.asarray(rows, dtype=np.float32)
    scale = np.abs(rows).max(axis=1) if len(rows) else np.zeros(0, dtype=np.float32)
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    q = np.round(rows / scale[:, None] * 127).astype(np.int8) if len(rows) else np.zeros(rows.shape, np.int8)
    return {name: q, f"{name}_scale": (scale / 127).astype(np.float32)}


def _dq8(arrays: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    return arrays[name].astype(np.float32) * arrays[f"{name}_scale"][:, None]


def _zeros(rows: int, dim: int) -> np.ndarray:
    return np.broadcast_to(np.zeros((1, dim), dtype=np.float32), (rows, dim))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


@dataclass
class Explanation:
    feature: str
    value: float
    weight: float


class PersonalModel:
    """One user's model: prototypes per tag and eight weights. See the module docstring."""

    def __init__(self, dim: int, encoder: str, weights: Sequence[float] | np.ndarray = DEFAULT_WEIGHTS):
        self.dim = dim
        self.encoder = encoder
        self.weights = np.asarray(weights, dtype=np.float64)
        self.keys: list[str] = []
        self.names: list[str] = []
        self._index: dict[str, int] = {}
        self.pos = np.zeros((0, dim), dtype=np.float32)  # sums
        self.pos_n = np.zeros(0, dtype=np.int32)
        self.neg = np.zeros((0, dim), dtype=np.float32)
        self.neg_n = np.zeros(0, dtype=np.int32)
        self.name_vectors = np.zeros((0, dim), dtype=np.float32)
        self.updates = 0  # incremental updates since the last full fit

    # -- vocabulary ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.keys)

    def has(self, key: str) -> bool:
        return key in self._index

    def tag_add(self, key: str, name: str, name_vector: np.ndarray) -> int:
        """Make ``key`` a tag the model can suggest (its name's embedding is its first evidence)."""
        if key in self._index:
            return self._index[key]
        i = len(self.keys)
        self.keys.append(key)
        self.names.append(name)
        self._index[key] = i
        zero = np.zeros((1, self.dim), dtype=np.float32)
        self.pos = np.vstack([self.pos, zero])
        self.neg = np.vstack([self.neg, zero])
        self.pos_n = np.append(self.pos_n, 0).astype(np.int32)
        self.neg_n = np.append(self.neg_n, 0).astype(np.int32)
        self.name_vectors = np.vstack(
            [self.name_vectors, _unit(np.asarray(name_vector, np.float32))[None, :]]
        )
        return i

    def tag_drop(self, key: str) -> None:
        """Forget a tag (deleted by its owner): it is never suggested again."""
        i = self._index.pop(key, None)
        if i is None:
            return
        keep = [j for j in range(len(self.keys)) if j != i]
        self.keys = [self.keys[j] for j in keep]
        self.names = [self.names[j] for j in keep]
        self._index = {k: j for j, k in enumerate(self.keys)}
        self.pos, self.neg = self.pos[keep], self.neg[keep]
        self.pos_n, self.neg_n = self.pos_n[keep], self.neg_n[keep]
        self.name_vectors = self.name_vectors[keep]

    # -- learning -----------------------------------------------------------------------------
    def learn(
        self,
        vector: np.ndarray,
        *,
        add: Iterable[str] = (),
        remove: Iterable[str] = (),
        reject: Iterable[str] = (),
    ) -> None:
        """One decision, incrementally. ``add``: the link now has the tag (added or accepted).
        ``remove``: it had the tag and lost it (the vector leaves the positive prototype and joins
        the negative one). ``reject``: a suggested tag was turned down (negative only). Unknown
        keys in ``add`` must have been added with :meth:`tag_add` first; others are ignored."""
        x = _unit(np.asarray(vector, dtype=np.float32))
        for key in add:
            i = self._index.get(key)
            if i is not None:
                self.pos[i] += x
                self.pos_n[i] += 1
        for key in remove:
            i = self._index.get(key)
            if i is not None and self.pos_n[i] > 0:
                self.pos[i] -= x
                self.pos_n[i] -= 1
                if self.pos_n[i] == 0:
                    self.pos[i] = 0
        for key in [*remove, *reject]:
            i = self._index.get(key)
            if i is not None:
                if not self.neg.flags.writeable:
                    self.neg = np.zeros((len(self.keys), self.dim), dtype=np.float32)
                self.neg[i] += x
                self.neg_n[i] += 1
        self.updates += 1

    # -- scoring ------------------------------------------------------------------------------
    def features(self, vectors: np.ndarray) -> np.ndarray:
        """(n links, n tags, N_FEATURES)."""
        x = _unit(np.asarray(vectors, dtype=np.float32))
        return _features(x, self.pos, self.pos_n, self.neg, self.neg_n, self.name_vectors)

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        """Probabilities, shape (n links, n tags), columns in ``self.keys`` order."""
        if not self.keys:
            return np.zeros((len(vectors), 0))
        f = self.features(vectors)
        return _sigmoid(f @ self.weights[:N_FEATURES] + self.weights[N_FEATURES])

    def predict(self, vector: np.ndarray) -> dict[str, float]:
        row = self.scores(np.asarray(vector, dtype=np.float32)[None, :])[0]
        return {key: float(s) for key, s in zip(self.keys, row, strict=True)}

    def explain(self, vector: np.ndarray, key: str) -> list[Explanation]:
        """What moved the score of ``key``: each feature's value and its contribution."""
        i = self._index[key]
        f = self.features(np.asarray(vector, dtype=np.float32)[None, :])[0, i]
        return [
            Explanation(name, float(f[j]), float(f[j] * self.weights[j]))
            for j, name in enumerate(FEATURES)
            if f[j] != 0
        ]

    def tag_links(self, key: str) -> int:
        i = self._index.get(key)
        return int(self.pos_n[i]) if i is not None else 0

    # -- storage ------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """A small, deterministic artifact: a JSON header, then an npz of 8-bit directions (one
        scale per row) and float32 norms (sum = direction x norm): under 1 KB per tag and
        prototype. Cosines read back within about 0.01 of the float32 model's."""
        header = {
            "format": FORMAT_VERSION,
            "encoder": self.encoder,
            "dim": self.dim,
            "keys": self.keys,
            "names": self.names,
            "weights": [round(float(w), 6) for w in self.weights],
            "updates": self.updates,
        }
        buffer = io.BytesIO()
        pos_norm = np.linalg.norm(self.pos, axis=1).astype(np.float32)
        neg_norm = np.linalg.norm(self.neg, axis=1).astype(np.float32)
        with_neg = np.flatnonzero(self.neg_n > 0).astype(np.int32)
        arrays: dict[str, Any] = {
            **_q8("pos", _unit(self.pos)),
            "pos_norm": pos_norm,
            "pos_n": self.pos_n,
            "neg_rows": with_neg,
            **_q8("neg", _unit(np.asarray(self.neg[with_neg]))),
            "neg_norm": neg_norm[with_neg],
            "neg_n": self.neg_n[with_neg],
            **_q8("names", self.name_vectors),
        }
        np.savez_compressed(buffer, **arrays)
        head = json.dumps(header, sort_keys=True).encode()
        return MAGIC + len(head).to_bytes(4, "big") + head + buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> PersonalModel:
        if not data.startswith(MAGIC):
            raise ValueError("not a personal model artifact")
        size = int.from_bytes(data[len(MAGIC) : len(MAGIC) + 4], "big")
        start = len(MAGIC) + 4
        header = json.loads(data[start : start + size])
        if header.get("format") != FORMAT_VERSION:
            raise ValueError(f"personal model format {header.get('format')} is not {FORMAT_VERSION}")
        arrays = np.load(io.BytesIO(data[start + size :]), allow_pickle=False)
        model = cls(int(header["dim"]), header["encoder"], header["weights"])
        model.keys = list(header["keys"])
        model.names = list(header["names"])
        model._index = {k: i for i, k in enumerate(model.keys)}
        model.updates = int(header.get("updates", 0))
        model.pos = _dq8(arrays, "pos") * arrays["pos_norm"][:, None]
        model.pos_n = arrays["pos_n"].astype(np.int32)
        model.neg_n = np.zeros(len(model.keys), dtype=np.int32)
        rows = arrays["neg_rows"]
        if len(rows):
            model.neg = np.zeros_like(model.pos)
            model.neg[rows] = _dq8(arrays, "neg") * arrays["neg_norm"][:, None]
            model.neg_n[rows] = arrays["neg_n"]
        else:  # nothing rejected yet: a read-only view of zeros, no memory (learn makes it real)
            model.neg = _zeros(len(model.keys), model.dim)
        model.name_vectors = _dq8(arrays, "names")
        return model


def _margin(values: np.ndarray) -> np.ndarray:
    """(n, t): each value minus the largest of the other columns of its row (0 with one column).
    How far ahead of the user's other tags a tag is: what tells a game from a pastebin when a
    user has only a few tags, whatever the absolute cosines."""
    _, t = values.shape
    if t < 2:
        return np.zeros_like(values)
    order = np.argsort(-values, axis=1)
    best = np.take_along_axis(values, order[:, :1], axis=1)
    second = np.take_along_axis(values, order[:, 1:2], axis=1)
    is_best = np.zeros_like(values, dtype=bool)
    np.put_along_axis(is_best, order[:, :1], True, axis=1)
    return values - np.where(is_best, second, best)


def _features(x, pos, pos_n, neg, neg_n, names, *, loo_pos=None, loo_neg=None) -> np.ndarray:
    """Features of links ``x`` (n, d) against every tag. ``loo_pos``/``loo_neg`` (n, t) boolean:
    the link is itself in that tag's positive/negative sum, and is taken out of it first
    (leave-one-out, for fitting)."""
    n, t = len(x), len(pos)
    out = np.zeros((n, t, N_FEATURES), dtype=np.float32)
    if t == 0:
        return out
    pos_dot = x @ pos.T  # x . sum
    neg_dot = x @ neg.T
    pos_sq = np.einsum("ij,ij->i", pos, pos)  # |sum|^2
    neg_sq = np.einsum("ij,ij->i", neg, neg)
    npos = np.broadcast_to(pos_n.astype(np.float32), (n, t)).copy()
    nneg = np.broadcast_to(neg_n.astype(np.float32), (n, t)).copy()
    psq = np.broadcast_to(pos_sq, (n, t)).copy()
    nsq = np.broadcast_to(neg_sq, (n, t)).copy()
    if loo_pos is not None:
        # |s - x|^2 = |s|^2 - 2 x.s + 1 ; x.(s - x) = x.s - 1
        psq = np.where(loo_pos, psq - 2 * pos_dot + 1, psq)
        pos_dot = np.where(loo_pos, pos_dot - 1, pos_dot)
        npos = np.where(loo_pos, npos - 1, npos)
    if loo_neg is not None:
        nsq = np.where(loo_neg, nsq - 2 * neg_dot + 1, nsq)
        neg_dot = np.where(loo_neg, neg_dot - 1, neg_dot)
        nneg = np.where(loo_neg, nneg - 1, nneg)
    pnorm = np.sqrt(np.maximum(psq, 0))
    nnorm = np.sqrt(np.maximum(nsq, 0))
    out[:, :, 0] = np.where((npos > 0) & (pnorm > 1e-6), pos_dot / np.maximum(pnorm, 1e-6), 0)
    out[:, :, 1] = np.where((nneg > 0) & (nnorm > 1e-6), neg_dot / np.maximum(nnorm, 1e-6), 0)
    out[:, :, 2] = x @ names.T if len(names) else 0
    out[:, :, 3] = np.log1p(npos)
    out[:, :, 4] = npos > 0
    out[:, :, 5] = _margin(out[:, :, 0])
    out[:, :, 6] = _margin(out[:, :, 2])
    return out


def fit(
    vectors: np.ndarray,
    tag_sets: Sequence[Iterable[str]],
    vocabulary: Mapping[str, str],
    name_vectors: Mapping[str, np.ndarray],
    *,
    encoder: str,
    rejected: Sequence[Iterable[str]] | None = None,
    default_weights: Sequence[float] | None = None,
    fit_weights: bool = True,
) -> PersonalModel:
    """A full retrain from one user's links: ``vectors[i]`` carries the tags ``tag_sets[i]`` and
    had ``rejected[i]`` turned down. ``vocabulary`` is {key: display name} of the user's tags,
    ``name_vectors`` {key: embedding of the name}. ``default_weights``: where the weights start
    (and what they are when ``fit_weights`` is off); None for DEFAULT_WEIGHTS moved to the size
    of the vocabulary (:func:`defaults_for`). Deterministic for the same input."""
    start = (
        defaults_for(len(vocabulary)) if default_weights is None else np.asarray(default_weights, np.float64)
    )
    x = _unit(
        np.asarray(vectors, dtype=np.float32).reshape(
            -1, np.asarray(vectors).shape[-1] if len(vectors) else 1
        )
    )
    dim = x.shape[1] if len(x) else len(next(iter(name_vectors.values())))
    model = PersonalModel(dim, encoder, start)
    for key in sorted(vocabulary):
        model.tag_add(key, vocabulary[key], name_vectors[key])
    t = len(model)
    y = np.zeros((len(x), t), dtype=bool)
    r = np.zeros((len(x), t), dtype=bool)
    rejected = rejected or [()] * len(x)
    for i, (tags, rej) in enumerate(zip(tag_sets, rejected, strict=True)):
        for key in tags:
            j = model._index.get(key)
            if j is not None:
                y[i, j] = True
        for key in rej:
            j = model._index.get(key)
            if j is not None and not y[i, j]:
                r[i, j] = True
    if len(x) and t:
        model.pos = (y.T.astype(np.float32) @ x).astype(np.float32)
        model.neg = (r.T.astype(np.float32) @ x).astype(np.float32)
        model.pos_n = y.sum(axis=0).astype(np.int32)
        model.neg_n = r.sum(axis=0).astype(np.int32)
        if fit_weights:
            model.weights = _fit_weights(model, x, y, r, start)
    model.updates = 0
    return model


def loo_features(model: PersonalModel, x: np.ndarray, y: np.ndarray, r: np.ndarray) -> np.ndarray:
    return _features(
        x, model.pos, model.pos_n, model.neg, model.neg_n, model.name_vectors, loo_pos=y, loo_neg=r
    )


def _fit_weights(model: PersonalModel, x, y, r, default: np.ndarray) -> np.ndarray:
    """The user's own weights on leave-one-out features, shrunk towards ``default``."""
    from sklearn.linear_model import LogisticRegression

    positives = int(y.sum())
    if positives < 5 or positives == y.size:
        return default
    f = loo_features(model, x, y, r).reshape(-1, N_FEATURES)
    labels = y.reshape(-1)
    lr = LogisticRegression(C=1.0, max_iter=200)
    lr.fit(f, labels)
    own = np.concatenate([lr.coef_[0], lr.intercept_])
    share = positives / (positives + SHRINK_PAIRS)
    return (1 - share) * default + share * own


def zero_shot(
    vocabulary: Mapping[str, str], name_vectors: Mapping[str, np.ndarray], *, encoder: str, dim: int
) -> PersonalModel:
    """A model that has seen no link: it ranks the tag names against the link (cos of the link's
    embedding and each name's), with ZERO_SHOT_WEIGHTS moved to the size of the vocabulary."""
    model = PersonalModel(dim, encoder, defaults_for(len(vocabulary), ZERO_SHOT_WEIGHTS))
    for key in sorted(vocabulary):
        model.tag_add(key, vocabulary[key], name_vectors[key])
    return model


def recall_at(scores: np.ndarray, y: np.ndarray, k: int = 3) -> float:
    """Mean over links with at least one tag of |top-k ∩ tags| / min(k, |tags|)."""
    has = y.sum(axis=1) > 0
    if not has.any():
        return math.nan
    top = np.argsort(-scores, axis=1)[:, :k]
    hits = np.take_along_axis(y, top, axis=1).sum(axis=1)
    return float((hits[has] / np.minimum(k, y.sum(axis=1)[has])).mean())


def blend(
    own: float | None, shared: float | None, shared_weight: float, *, trained: bool = True
) -> tuple[float, str]:
    """One tag's blended score and the source that gave most of it ("own" or "shared").

    ``own`` is the user's own model's score, ``shared`` the shared model's; None where a source
    does not know the tag. ``trained``: the own model is a personal model (else zero-shot).

    - personal and shared both score it: ``(1 - w) * own + w * shared``. The personal model knows
      the user's vocabulary best: with a plain maximum the shared model's higher but less
      accurate scores decided (the replay of bench/personal.py).
    - zero-shot and shared: the higher of the two. Zero-shot only fills in where the shared model
      is unsure; it helped a new user's first links in the replay, where averaging hurt.
    - one source knows it: its score.
    """
    if own is None and shared is None:
        raise ValueError("no source scored the tag")
    if shared is None:
        return float(own), "own"  # type: ignore[arg-type]
    if own is None:
        return float(shared), "shared"
    if not trained:
        return (float(own), "own") if own > shared else (float(shared), "shared")
    w = min(max(shared_weight, 0.0), 1.0)
    score = (1 - w) * own + w * shared
    return score, ("shared" if w * shared > (1 - w) * own else "own")
