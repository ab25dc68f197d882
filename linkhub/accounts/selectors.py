"""Reads for accounts."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet

from .models import ApiToken, Profile


def api_token_list(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user)


def training_consent_get(*, user: User) -> bool:
    return Profile.objects.filter(user=user, share_for_training=True).exists()
