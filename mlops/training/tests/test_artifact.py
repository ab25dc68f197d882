"""Artifacts: round trip, and refusal of tampered or unknown bytes before anything is unpickled."""

from __future__ import annotations

import hashlib
import json
import pickle

import numpy as np
import pytest

from mlops import training as T
from mlops.training import artifact
from mlops.training.tests.test_designs import QUERIES, corpus


@pytest.fixture(scope="module")
def model() -> T.TagModel:
    return T.create_design("tfidf_lr", calibration_folds=2).fit(corpus(), min_examples=3)


def test_round_trip_predicts_the_same(model):
    data = T.dump(model)
    loaded = T.load(data, T.artifact_sha256(data))
    queries = list(QUERIES.values())
    assert loaded.labels == model.labels
    assert np.allclose(loaded.predict_matrix(queries), model.predict_matrix(queries))
    header = T.read_header(data)
    assert header["format_version"] == artifact.FORMAT_VERSION
    assert header["design"] == "tfidf_lr"
    assert header["sklearn"] and header["python"]


def test_flipped_byte_is_refused_before_unpickling(model, monkeypatch):
    data = T.dump(model)
    sha = T.artifact_sha256(data)

    def no_unpickling(*args, **kwargs):
        raise AssertionError("pickle.loads must not run on unverified bytes")

    monkeypatch.setattr(artifact.pickle, "loads", no_unpickling)
    for position in (0, len(data) // 2, len(data) - 1):
        tampered = bytearray(data)
        tampered[position] ^= 0x01
        with pytest.raises(T.ArtifactIntegrityError):
            T.load(bytes(tampered), sha)
    with pytest.raises(T.ArtifactIntegrityError):
        T.load(data, "0" * 64)
    with pytest.raises(T.ArtifactIntegrityError):
        T.load(data + b"\x00", sha)


def _rewrite_header(data: bytes, **changes) -> bytes:
    header = T.read_header(data)
    header.update(changes)
    payload = data[data.index(b"\n", len(artifact.MAGIC)) + 1 :]
    return artifact.MAGIC + json.dumps(header).encode() + b"\n" + payload


def test_unknown_format_version_is_refused(model):
    data = _rewrite_header(T.dump(model), format_version=99)
    with pytest.raises(T.UnknownArtifactFormat, match="format_version 99"):
        T.load(data, hashlib.sha256(data).hexdigest())


def test_not_an_artifact_is_refused():
    data = pickle.dumps({"not": "a model"})
    with pytest.raises(T.UnknownArtifactFormat, match="magic"):
        T.load(data, hashlib.sha256(data).hexdigest())


def test_unknown_design_is_refused(model):
    data = _rewrite_header(T.dump(model), design="gpt")
    with pytest.raises(T.UnknownArtifactFormat, match="unknown tag-model design"):
        T.load(data, hashlib.sha256(data).hexdigest())


def test_unfitted_model_is_not_dumped():
    with pytest.raises(ValueError, match="unfitted"):
        T.dump(T.create_design("tfidf_lr"))


def test_hashing_model_keeps_learning_after_a_round_trip():
    model = T.create_design("hashing_sgd", calibration_folds=2).fit(corpus(), min_examples=3)
    data = T.dump(model)
    loaded = T.load(data, T.artifact_sha256(data))
    extra = corpus(4, seed=9)
    loaded.partial_fit(extra)
    assert set(loaded.labels) >= set(model.labels)
