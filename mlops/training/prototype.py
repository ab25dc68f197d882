"""``minilm_proto``: the personal model's design (:mod:`.personal`) as a shared model.

Each tag of the label set is a prototype, the sum of the sentence embeddings of the training
links that carry it, next to the embedding of its name; a link is scored from its cosines to
them through the seven-feature logistic map that :func:`personal.fit` fits on leave-one-out
features of the training links. Training is one matrix product and one logistic regression
over (links x tags) rows of seven features, so its cost is dominated by the embeddings: with
the links' embeddings cached (the app caches them, ``services/embeddings.py``), 100,000 links
train in 11.5 s on 2 idle cores (bench/personal.py). It is the design for large shared
training sets; on the shared dataset ``minilm_blend`` ranks better (docs/tag-model.md).

``explain`` is occlusion, as for the other embedding designs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np

from . import personal as pm
from .data import Example
from .designs import DEFAULT_MIN_EXAMPLES, Progress, Steps, TagModel
from .embedding import _REQUIRES, DEFAULT_ENCODER, embed
from .features import SNAPSHOT_CHARS, embedding_text

__all__ = ["MiniLMPrototype"]


class MiniLMPrototype(TagModel):
    name = "minilm_proto"
    requires: ClassVar[tuple[str, ...]] = _REQUIRES
    defaults: ClassVar[dict[str, Any]] = {
        "encoder": DEFAULT_ENCODER,
        "snapshot_chars": SNAPSHOT_CHARS,
        "batch_size": 64,
    }

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._model: pm.PersonalModel | None = None

    def _vectors(self, examples: Sequence[Example]) -> np.ndarray:
        texts = [embedding_text(ex, int(self.params["snapshot_chars"])) for ex in examples]
        return embed(texts, self.params["encoder"], int(self.params["batch_size"]))

    def fit(
        self,
        examples: Sequence[Example],
        *,
        min_examples: int = DEFAULT_MIN_EXAMPLES,
        progress: Progress | None = None,
    ) -> Self:
        y = self._start(examples, min_examples)
        steps = Steps(progress, 3)
        x = self._vectors(examples)
        steps.step("embedded the training links")
        names = embed([label.replace("-", " ") for label in self.labels], self.params["encoder"])
        steps.step("embedded the tag names")
        tag_sets = [[self.labels[j] for j in np.flatnonzero(row)] for row in y]
        self._model = pm.fit(
            x,
            tag_sets,
            {label: label for label in self.labels},
            dict(zip(self.labels, names, strict=True)),
            encoder=self.params["encoder"],
        )
        steps.step("fitted the prototypes and their weights")
        self.info["weights"] = [round(float(w), 4) for w in self._model.weights]
        return self

    def predict_matrix(self, examples: Sequence[Example]) -> np.ndarray:
        if self._model is None:
            raise RuntimeError("fit first")
        if not examples:
            return np.zeros((0, len(self.labels)))
        scores = self._model.scores(self._vectors(examples))
        order = [self._model._index[label] for label in self.labels]
        return scores[:, order]

    def explain(self, example: Example, tag: str, k: int = 5) -> list[tuple[str, float]]:
        return self._occlusion(example, tag, k)
