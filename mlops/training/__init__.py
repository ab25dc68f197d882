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

    model, holdout_metrics = T.train("tfidf_lr", examples, min_examples=3, progress=cb)
    data = T.dump(model); sha = T.artifact_sha256(data)
    model = T.load(data, expected_sha256=sha)          # ArtifactIntegrityError before unpickling

``hashing_sgd`` models also have ``partial_fit(examples)`` (new tags included).
The embedding designs raise ``DesignUnavailable`` (an ``ImportError``) without torch.
"""

from .artifact import (
    ArtifactError,
    ArtifactIntegrityError,
    UnknownArtifactFormat,
    artifact_sha256,
    dump,
    load,
    read_header,
)
from .data import Example, fingerprint, load_jsonl, split
from .designs import (
    BASELINES,
    DESIGNS,
    DesignUnavailable,
    Progress,
    TagModel,
    available_designs,
    create_design,
    default_design,
    select_labels,
)
from .metrics import evaluate, evaluate_scores, expected_calibration_error
from .pipeline import train

__all__ = [
    "BASELINES",
    "DESIGNS",
    "ArtifactError",
    "ArtifactIntegrityError",
    "DesignUnavailable",
    "Example",
    "Progress",
    "TagModel",
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
