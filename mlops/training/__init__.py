"""The tag model's training core: pure Python, no Django (the only package that imports sklearn/torch).

Interface (details in each module's docstring; the design comparison is docs/tag-model.md)::

    from mlops import training as T

    examples = T.load_jsonl(path)                      # list[Example]; ValueError names bad lines
    train_set, test_set = T.split(examples, test_size=0.25, seed=42)
    T.fingerprint(examples)                            # sha256 hex, order-independent

    T.available_designs()  # most_frequent, knn, tfidf_lr, hashing_sgd (+ minilm_lr, minilm_blend)
    T.default_design()     # 'minilm_blend' with torch installed, else 'tfidf_lr'
    model = T.create_design("tfidf_lr", C=30.0).fit(train_set, min_examples=3)
    model.labels                                       # tags with >= min_examples examples
    model.predict_scores([example])                    # [{tag: calibrated probability}]
    model.explain(example, tag, k=5)                   # [(term, weight)], terms from the link
    T.evaluate(model, test_set)                        # recall_at_3, lrap, ece, per_tag, ...

    trained = T.train("tfidf_lr", examples, min_examples=3, progress=cb)
    trained.model, trained.metrics, trained.train_set, trained.holdout
    data = T.dump(model); sha = T.artifact_sha256(data)
    model = T.load(data, expected_sha256=sha)          # ArtifactIntegrityError before unpickling

``hashing_sgd`` models also have ``partial_fit(examples)`` (new tags included).
The embedding designs raise ``DesignUnavailable`` (an ``ImportError``) without torch.

The package imports nothing itself: each name above is imported from its module on first use.
So ``mlops.training.data`` (examples, splits, ``TEXT_CHARS``) and ``mlops.training.metric_names``
load without numpy or scikit-learn, and only code that fits, scores or loads a model pays for them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .artifact import (
        ArtifactError,
        ArtifactIntegrityError,
        UnknownArtifactFormat,
        artifact_sha256,
        dump,
        load,
        read_header,
    )
    from .data import TEXT_CHARS, Example, fingerprint, load_jsonl, split
    from .designs import (
        BASELINES,
        DESIGNS,
        DesignUnavailable,
        NoLabels,
        Progress,
        TagModel,
        available_designs,
        create_design,
        default_design,
        select_labels,
    )
    from .metrics import evaluate, evaluate_scores, expected_calibration_error
    from .pipeline import TooFewExamples, Trained, train

# name -> the module that defines it
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(
        [
            "ArtifactError",
            "ArtifactIntegrityError",
            "UnknownArtifactFormat",
            "artifact_sha256",
            "dump",
            "load",
            "read_header",
        ],
        "artifact",
    ),
    **dict.fromkeys(["TEXT_CHARS", "Example", "fingerprint", "load_jsonl", "split"], "data"),
    **dict.fromkeys(
        [
            "BASELINES",
            "DESIGNS",
            "DesignUnavailable",
            "NoLabels",
            "Progress",
            "TagModel",
            "available_designs",
            "create_design",
            "default_design",
            "select_labels",
        ],
        "designs",
    ),
    **dict.fromkeys(["evaluate", "evaluate_scores", "expected_calibration_error"], "metrics"),
    **dict.fromkeys(["Trained", "TooFewExamples", "train"], "pipeline"),
}

__all__ = [
    "BASELINES",
    "DESIGNS",
    "TEXT_CHARS",
    "ArtifactError",
    "ArtifactIntegrityError",
    "DesignUnavailable",
    "Example",
    "NoLabels",
    "Progress",
    "TagModel",
    "TooFewExamples",
    "Trained",
    "UnknownArtifactFormat",
    "artifact_sha256",
    "available_designs",
    "create_design",
    "default_design",
    "dump",
    "evaluate",
    "evaluate_scores",
    "expected_calibration_error",
    "fingerprint",
    "load",
    "load_jsonl",
    "read_header",
    "select_labels",
    "split",
    "train",
]


def __getattr__(name: str) -> Any:
    # PEP 562: only called for names not yet in the package's namespace. A submodule's name
    # (``drift``, ``metrics``...) is not ours to answer: the import system loads it instead.
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
