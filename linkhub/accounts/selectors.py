"""Reads for accounts."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet

from .models import ApiToken, Profile, TrainingConsent


def api_token_list(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user)


def training_consent_get(*, user: User) -> str:
    """The user's training consent level; ``none`` for a user who never chose one."""
    level = Profile.objects.filter(user=user).values_list("training_consent", flat=True).first()
    return level or TrainingConsent.NONE


def users_with_consent(*, levels: list[str]) -> QuerySet[Profile]:
    """Profiles whose consent is one of ``levels`` (training reads who may be in a model)."""
    return Profile.objects.filter(training_consent__in=levels)
