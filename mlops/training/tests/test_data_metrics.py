"""Data loading, split, fingerprint and metric definitions, checked against hand-computed values."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlops.training.data import Example, fingerprint, load_jsonl, split
from mlops.training.features import model_text, url_domain, url_tokens
from mlops.training.metrics import evaluate_scores, expected_calibration_error


def _write(tmp_path, lines):
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_load_jsonl_reads_fields_and_ignores_extra_keys(tmp_path):
    row = {
        "url": "https://a.example/x",
        "title": "A",
        "description": "d",
        "tags": ["Wikis", "wikis "],
        "id": 1,
    }
    path = _write(tmp_path, [json.dumps(row), "", json.dumps({"url": "https://b.example", "tags": []})])
    examples = load_jsonl(path)
    assert examples[0] == Example(url="https://a.example/x", title="A", description="d", tags=["wikis"])
    assert examples[1].title == "" and examples[1].tags == []


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 2: not valid JSON"),
        ("[1, 2]", "line 2: expected a JSON object"),
        ('{"title": "no url"}', "line 2: 'url' is missing"),
        ('{"url": "https://x.example", "tags": "wikis"}', "line 2: 'tags' must be a list"),
        ('{"url": "https://x.example", "title": 5}', "line 2: 'title' must be a string"),
    ],
)
def test_load_jsonl_bad_line_names_its_number(tmp_path, line, message):
    path = _write(tmp_path, [json.dumps({"url": "https://ok.example", "tags": ["a"]}), line])
    with pytest.raises(ValueError, match=message):
        load_jsonl(path)


def _examples(n):
    return [Example(url=f"https://site{i}.example/p", title=f"t{i}", tags=[f"tag{i % 3}"]) for i in range(n)]


def test_split_is_deterministic_and_independent_of_order_and_neighbours():
    examples = _examples(400)
    train, test = split(examples, test_size=0.25, seed=42)
    assert len(train) + len(test) == 400
    assert 60 < len(test) < 140
    _again_train, again_test = split(list(reversed(examples)), test_size=0.25, seed=42)
    assert {e.url for e in again_test} == {e.url for e in test}
    # adding examples never moves an existing one to the other side
    _, bigger_test = split([*examples, *_examples(600)[400:]], test_size=0.25, seed=42)
    assert {e.url for e in test} <= {e.url for e in bigger_test}
    _, other_seed_test = split(examples, test_size=0.25, seed=7)
    assert {e.url for e in other_seed_test} != {e.url for e in test}


def test_split_keeps_duplicate_urls_together():
    a = Example(url="https://dup.example", title="one", tags=["x"])
    b = Example(url="https://dup.example", title="two", tags=["y"])
    _train, test = split([a, b, *_examples(50)], seed=1)
    assert (a in test) == (b in test)


def test_fingerprint_is_stable_and_order_free_but_sees_any_change():
    examples = _examples(20)
    fp = fingerprint(examples)
    assert fp == fingerprint(list(reversed(examples)))
    assert len(fp) == 64
    swapped = [Example(url=e.url, title=e.title, tags=list(reversed(e.tags))) for e in examples]
    assert fingerprint(swapped) == fp
    changed = [*examples[:-1], Example(url=examples[-1].url, title="changed", tags=examples[-1].tags)]
    assert fingerprint(changed) != fp
    retagged = [*examples[:-1], Example(url=examples[-1].url, title=examples[-1].title, tags=["other"])]
    assert fingerprint(retagged) != fp
    assert fingerprint(examples[:-1]) != fp


def test_model_text_has_url_words_and_truncated_snapshot():
    ex = Example(
        url="https://www.github.com/acme/photo-vault",
        title="Vault",
        description="Store photos.",
        text="x" * 5000,
    )
    assert url_domain(ex.url) == "github.com"
    assert url_tokens(ex.url) == ["github", "acme", "photo", "vault"]
    text = model_text(ex, snapshot_chars=100)
    assert "photo vault" in text and text.count("x") == 100


def test_ranking_metrics_match_hand_computed_values():
    labels = ["a", "b", "c", "d"]
    examples = [
        Example(url="u1", tags=["a"]),  # top3 = a,b,c -> hit 1/1
        Example(url="u2", tags=["d", "b"]),  # top3 = c,b,a -> hit b: 1/2
        Example(url="u3", tags=["zzz"]),  # tag outside the label set: recall 0, skipped "in labels"
        Example(url="u4", tags=[]),  # no tags: skipped by everything
    ]
    scores = np.array(
        [
            [0.9, 0.5, 0.2, 0.1],
            [0.3, 0.6, 0.7, 0.0],
            [0.1, 0.1, 0.1, 0.1],
            [0.5, 0.5, 0.5, 0.5],
        ]
    )
    m = evaluate_scores(scores, labels, examples, threshold=0.5)
    assert m["n"] == 3
    assert m["precision_at_1"] == pytest.approx((1 + 0 + 0) / 3)
    assert m["recall_at_1"] == pytest.approx((1 + 0 + 0) / 3)
    assert m["precision_at_3"] == pytest.approx((1 / 3 + 1 / 3 + 0) / 3)
    assert m["recall_at_3"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert m["recall_at_3_in_labels"] == pytest.approx((1 + 0.5) / 2)
    assert m["recall_at_5"] == pytest.approx((1 + 1 + 0) / 3)
    # threshold 0.5: decided = u1{a,b}, u2{b,c}; tp=a,b(u2)=2, fp=b(u1),c(u2)=2, fn=d(u2)+zzz=2
    assert m["micro_precision"] == pytest.approx(0.5)
    assert m["micro_recall"] == pytest.approx(0.5)
    assert m["micro_f1"] == pytest.approx(0.5)
    assert m["per_tag"]["a"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert m["per_tag"]["b"]["precision"] == pytest.approx(0.5)
    assert m["per_tag"]["d"]["recall"] == 0.0
    assert m["macro_f1"] == pytest.approx((1.0 + 2 / 3 + 0.0 + 0.0) / 4)
    # LRAP over u1 (rank of a = 1 -> 1.0) and u2 (b at rank 2: 1/2; d at rank 4: 2/4) -> (1 + 0.5) / 2
    assert m["lrap"] == pytest.approx((1.0 + 0.5) / 2)
    assert m["coverage"] == pytest.approx(2 / 3)


def test_expected_calibration_error_by_hand():
    # bin [0.1, 0.2): scores 0.1, 0.1, truth 0, 1 -> |0.1 - 0.5| = 0.4, weight 2/4
    # bin [0.9, 1.0]: scores 0.9, 1.0, truth 1, 1 -> |0.95 - 1| = 0.05, weight 2/4
    scores = np.array([0.1, 0.1, 0.9, 1.0])
    y = np.array([0, 1, 1, 1])
    assert expected_calibration_error(scores, y) == pytest.approx(0.5 * 0.4 + 0.5 * 0.05)
    assert expected_calibration_error(np.array([0.0, 1.0]), np.array([0, 1])) == pytest.approx(0.0)


def test_vectorised_lrap_equals_sklearn_including_ties():
    from sklearn.metrics import label_ranking_average_precision_score

    from mlops.training.metrics import ranking_average_precision

    rng = np.random.default_rng(3)
    scores = rng.integers(0, 5, size=(300, 12)).astype(float)  # many ties
    y = (rng.uniform(size=scores.shape) < 0.15).astype(int)
    y[np.arange(300), rng.integers(0, 12, size=300)] = 1
    assert ranking_average_precision(scores, y) == pytest.approx(
        label_ranking_average_precision_score(y, scores)
    )
