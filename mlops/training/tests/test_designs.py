"""Designs on a small synthetic corpus: label sets, scores, explanations, incremental learning."""

from __future__ import annotations

import random
import re
import sys

import numpy as np
import pytest

from mlops import training as T
from mlops.training import designs
from mlops.training.calibration import PlattCalibrator
from mlops.training.data import Example
from mlops.training.features import model_text, url_domain

VOCAB = {
    "photos": ["photo", "gallery", "image", "album", "camera", "pictures"],
    "money": ["budget", "expense", "invoice", "finance", "bank", "savings"],
    "chat": ["message", "chat", "irc", "talk", "conversation", "rooms"],
}
FILLER = ["simple", "fast", "web", "application", "server", "open", "tool", "modern"]
LIGHT = ["most_frequent", "knn", "tfidf_lr", "hashing_sgd"]


def _example(rng: random.Random, i: int, tag: str, words: list[str]) -> Example:
    body = rng.sample(words, 3) + rng.sample(FILLER, 3)
    rng.shuffle(body)
    return Example(
        url=f"https://{tag}{i}.example.org/{words[0]}-{i}",
        title=f"{words[0].title()}{i}",
        description=" ".join(body).capitalize() + ".",
        tags=[tag],
    )


def corpus(n_per_tag: int = 20, seed: int = 0) -> list[Example]:
    rng = random.Random(seed)
    out = [_example(rng, i, tag, words) for tag, words in VOCAB.items() for i in range(n_per_tag)]
    # a rare tag with 2 examples: below min_examples=3, above min_examples=2
    out += [
        Example(
            url=f"https://rare{i}.example.org", title="Odd", description="weird niche thing", tags=["rare"]
        )
        for i in range(2)
    ]
    return out


QUERIES = {
    "photos": Example(
        url="https://new.example.net/x", title="Snap", description="A photo album and image gallery."
    ),
    "money": Example(
        url="https://new.example.net/y", title="Cash", description="Track budget, invoice, expense."
    ),
    "chat": Example(
        url="https://new.example.net/z", title="Talky", description="Chat rooms for conversation."
    ),
}


@pytest.fixture(scope="module")
def fitted() -> dict[str, T.TagModel]:
    data = corpus()
    return {name: T.create_design(name, **_fast(name)).fit(data, min_examples=3) for name in LIGHT}


def _fast(name: str) -> dict:
    return {"calibration_folds": 2} if name in ("tfidf_lr", "hashing_sgd") else {}


@pytest.mark.parametrize("name", LIGHT)
def test_min_examples_decides_the_label_set(name):
    data = corpus()
    assert T.create_design(name, **_fast(name)).fit(data, min_examples=3).labels == [
        "chat",
        "money",
        "photos",
    ]
    assert "rare" in T.create_design(name, **_fast(name)).fit(data, min_examples=2).labels
    with pytest.raises(ValueError, match="no tag has at least"):
        T.create_design(name).fit(data, min_examples=1000)


@pytest.mark.parametrize("name", LIGHT)
def test_predict_scores_are_probabilities_over_the_label_set(fitted, name):
    model = fitted[name]
    scores = model.predict_scores(list(QUERIES.values()))
    for row in scores:
        assert set(row) == set(model.labels)
        assert all(0.0 <= p <= 1.0 for p in row.values())
    assert model.predict_matrix([]).shape == (0, len(model.labels))


@pytest.mark.parametrize("name", ["knn", "tfidf_lr", "hashing_sgd"])
def test_learned_designs_rank_the_right_tag_first(fitted, name):
    for tag, query in QUERIES.items():
        row = fitted[name].predict_scores([query])[0]
        assert max(row, key=row.__getitem__) == tag, (name, tag, row)


@pytest.mark.parametrize("name", ["knn", "tfidf_lr", "hashing_sgd"])
def test_explain_returns_terms_of_the_link_that_raise_the_score(fitted, name):
    model = fitted[name]
    query = QUERIES["money"]
    terms = model.explain(query, "money", k=3)
    assert 1 <= len(terms) <= 3
    words = set(re.findall(r"\w+", model_text(query).lower())) | {url_domain(query.url)}
    assert all(term in words for term, _ in terms), terms
    weights = [w for _, w in terms]
    assert all(w > 0 for w in weights) and weights == sorted(weights, reverse=True)
    assert {"budget", "invoice", "expense"} & {term for term, _ in terms}
    assert model.explain(query, "not-a-label") == []


def test_most_frequent_gives_everyone_the_same_scores(fitted):
    model = fitted["most_frequent"]
    a, b = model.predict_matrix([QUERIES["photos"], QUERIES["chat"]])
    assert np.array_equal(a, b)
    assert model.explain(QUERIES["photos"], "photos") == []


def test_partial_fit_learns_a_brand_new_tag():
    model = T.create_design("hashing_sgd", calibration_folds=2).fit(corpus(), min_examples=3)
    assert "recipes" not in model.labels
    rng = random.Random(5)
    words = ["recipe", "cooking", "kitchen", "meal", "ingredients", "dinner"]
    new = [_example(rng, i, "recipes", words) for i in range(6)]
    model.partial_fit(new[:2])
    assert "recipes" not in model.labels  # 2 examples: still below min_examples
    model.partial_fit(new[2:])
    assert "recipes" in model.labels
    query = Example(url="https://food.example.net", title="Yum", description="Cooking recipe for dinner.")
    row = model.predict_scores([query])[0]
    assert max(row, key=row.__getitem__) == "recipes", row
    # the old tags still work
    row = model.predict_scores([QUERIES["money"]])[0]
    assert max(row, key=row.__getitem__) == "money", row
    assert model.explain(query, "recipes")


def test_partial_fit_from_scratch_without_fit():
    model = T.create_design("hashing_sgd")
    model.min_examples = 2  # partial_fit keeps the threshold the model has; fit() would set it
    data = corpus(5)
    model.partial_fit(data)
    assert set(model.labels) == {"chat", "money", "photos", "rare"}


def test_c_grid_is_chosen_by_cross_validation_on_training_data():
    model = T.create_design("tfidf_lr", C=[0.01, 30.0], calibration_folds=2).fit(corpus(), min_examples=3)
    assert model.params["C"] in (0.01, 30.0)
    assert model.info["cv_grid"] == [0.01, 30.0]


def test_platt_calibration_keeps_the_ranking():
    rng = np.random.default_rng(0)
    raw = rng.uniform(0.01, 0.99, size=(200, 5))
    y = (rng.uniform(size=raw.shape) < raw**3).astype(int)
    cal = PlattCalibrator().fit(raw, y)
    assert cal.fitted
    out = cal.transform(raw)
    assert np.array_equal(np.argsort(raw, axis=1), np.argsort(out, axis=1))


def test_unknown_design_and_parameter_are_refused():
    with pytest.raises(ValueError, match="unknown tag-model design"):
        T.create_design("nope")
    with pytest.raises(ValueError, match="unknown parameters"):
        T.create_design("tfidf_lr", gamma=1)


def test_without_torch_the_embedding_designs_are_unavailable(monkeypatch):
    from mlops.training import embedding

    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
    monkeypatch.setattr(embedding, "_encoders", {})
    assert "minilm_lr" not in T.available_designs()
    assert "minilm_blend" not in T.available_designs()
    assert T.default_design() == "tfidf_lr"
    model = T.create_design("minilm_lr")
    with pytest.raises(ImportError, match="need torch") as info:
        model.fit(corpus(), min_examples=3)
    assert isinstance(info.value, designs.DesignUnavailable)
    with pytest.raises(embedding.EmbeddingUnavailable):
        T.create_design("minilm_blend").fit(corpus(), min_examples=3)


def test_default_design_prefers_the_embedding_blend_when_installed(monkeypatch):
    monkeypatch.setattr(designs.importlib.util, "find_spec", lambda name: object())
    assert T.default_design() == "minilm_blend"


def test_train_reports_progress_and_lineage():
    calls: list[tuple[int, int, str]] = []
    data = corpus(30)
    trained = T.train(
        "tfidf_lr",
        data,
        min_examples=3,
        params={"calibration_folds": 2},
        progress=lambda done, total, msg: calls.append((done, total, msg)),
    )
    model, metrics = trained.model, trained.metrics
    done = [c[0] for c in calls]
    assert done == sorted(done) and calls[-1][:2] == (100, 100) and calls[0][0] == 0
    assert all(total == 100 for _, total, _ in calls)
    for key in ("precision_at_1", "precision_at_3", "recall_at_3", "recall_at_5", "micro_f1", "macro_f1"):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["n"] == model.info["n_holdout"] > 0
    assert model.info["data_fingerprint"] == T.fingerprint(data)
    assert model.info["n_train"] + model.info["n_holdout"] == len(data)
    assert (len(trained.train_set), len(trained.holdout)) == (model.info["n_train"], model.info["n_holdout"])
    assert model.info["holdout_fingerprint"] == T.fingerprint(trained.holdout)
    assert not {e.url for e in trained.train_set} & {e.url for e in trained.holdout}
    assert metrics["recall_at_3"] > 0.9  # the synthetic tags are easy; a broken model is not


def test_train_refuses_too_little_data_before_fitting_and_a_fit_without_labels():
    data = corpus(30)
    with pytest.raises(T.TooFewExamples, match="at least 1000 needed"):
        T.train("tfidf_lr", data, min_train=1000)
    with pytest.raises(T.TooFewExamples, match="0 for the holdout"):
        T.train("tfidf_lr", data[:3], min_train=1, test_size=0.01)
    with pytest.raises(T.NoLabels, match="no tag has at least 1000"):
        T.train("most_frequent", data, min_examples=1000)
