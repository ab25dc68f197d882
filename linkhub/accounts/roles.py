"""Roles are Django groups, created by a migration."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

REVIEWERS = "reviewers"
MODEL_OWNERS = "model owners"


def _in_group(user: AbstractBaseUser | AnonymousUser, name: str) -> bool:
    if not user.is_authenticated:
        return False
    cache = getattr(user, "_linkhub_groups", None)
    if cache is None:
        cache = set(user.groups.values_list("name", flat=True))  # type: ignore[attr-defined]
        setattr(user, "_linkhub_groups", cache)  # noqa: B010 - a per-request memo on the user
    return name in cache


def is_reviewer(user: AbstractBaseUser | AnonymousUser) -> bool:
    return _in_group(user, REVIEWERS)


def is_model_owner(user: AbstractBaseUser | AnonymousUser) -> bool:
    return _in_group(user, MODEL_OWNERS)
