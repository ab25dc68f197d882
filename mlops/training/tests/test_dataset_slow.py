"""The default design on the shared dataset beats both baselines (slow: trains for real)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlops import training as T

REPO = Path(__file__).resolve().parents[3]


def dataset_path() -> Path:
    """The labelled dataset (see mlops/tests/dataset.py: never missing in this repository)."""
    from mlops.tests.dataset import DATASET

    return DATASET


@pytest.fixture(scope="module")
def dataset() -> list[T.Example]:
    return T.load_jsonl(dataset_path())


@pytest.mark.slow
def test_default_design_beats_both_baselines_on_the_fixed_split(dataset):
    train, test = T.split(dataset, test_size=0.25, seed=42)
    design = T.default_design()
    model = T.create_design(design).fit(train, min_examples=3)
    ours = T.evaluate(model, test)
    for baseline in T.BASELINES:
        base = T.evaluate(T.create_design(baseline).fit(train, min_examples=3), test)
        assert ours["recall_at_3"] > base["recall_at_3"], (
            design,
            baseline,
            ours["recall_at_3"],
            base["recall_at_3"],
        )
        assert ours["lrap"] > base["lrap"], (design, baseline)
    # explanations are words of the link itself
    example = next(ex for ex in test if ex.tags and ex.tags[0] in model.labels)
    terms = model.explain(example, example.tags[0], k=5)
    text = " ".join([example.title, example.description, example.text, example.url]).lower()
    assert all(term in set(re.findall(r"\w+", text)) or term in text for term, _ in terms)
    # the artifact reloads to the same scores (the embedding designs reload their encoder)
    data = T.dump(model)
    again = T.load(data, T.artifact_sha256(data))
    for a, b in zip(again.predict_scores(test[:3]), model.predict_scores(test[:3]), strict=True):
        assert a == pytest.approx(b, abs=1e-6)


@pytest.mark.slow
def test_the_prototype_design_beats_both_baselines_and_reloads(dataset):
    """minilm_proto, the personal design as a shared model (the one for large training sets)."""
    train, test = T.split(dataset, test_size=0.25, seed=42)
    model = T.create_design("minilm_proto").fit(train, min_examples=3)
    ours = T.evaluate(model, test)
    for baseline in T.BASELINES:
        base = T.evaluate(T.create_design(baseline).fit(train, min_examples=3), test)
        assert ours["recall_at_3"] > base["recall_at_3"] and ours["lrap"] > base["lrap"], baseline
    assert model.predict_matrix(test[:4]).shape == (4, len(model.labels))
    data = T.dump(model)
    again = T.load(data, T.artifact_sha256(data))
    for a, b in zip(again.predict_scores(test[:3]), model.predict_scores(test[:3]), strict=True):
        assert a == pytest.approx(b, abs=1e-6)
