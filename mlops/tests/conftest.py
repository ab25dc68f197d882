"""Fixtures for the tag model's tests: versions and suggestions made directly, roles."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from mlops.models import ModelVersion, Stage, Suggestion


@pytest.fixture
def make_version(db):
    counter = {"n": 0}

    def make(stage: str = Stage.PRODUCTION, **fields) -> ModelVersion:
        counter["n"] += 1
        n = fields.pop("number", None) or ModelVersion.objects.count() + counter["n"]
        defaults = {
            "number": n,
            "design": "test",
            "stage": stage,
            "artifact_sha256": f"{n:064x}",
            "artifact_path": f"models/test/{n}.bin",
            "format_version": 1,
            "sklearn_version": "test",
            "python_version": "3.11",
            "data_fingerprint": f"{n:064x}",
            "metrics": {"recall_at_3": 0.5, "precision_at_1": 0.5},
        }
        defaults.update(fields)
        return ModelVersion.objects.create(**defaults)

    return make


@pytest.fixture
def suggest(db):
    def make(link, tag: str, score: float = 0.6, version=None, status=Suggestion.Status.PROPOSED, **kw):
        from linkhub.links.models import tag_key

        return Suggestion.objects.create(
            link=link,
            tag_name=tag,
            tag_key=tag_key(tag),
            score=score,
            model_version=version,
            status=status,
            explanation=[["owls", 0.4]],
            **kw,
        )

    return make


def _join(user, name: str):
    group, _ = Group.objects.get_or_create(name=name)
    user.groups.add(group)
    user.__dict__.pop("_linkhub_groups", None)
    return user


@pytest.fixture
def reviewer(make_user):
    return _join(make_user("rita"), "reviewers")


@pytest.fixture
def owner_of_models(make_user):
    return _join(make_user("mo"), "model owners")
