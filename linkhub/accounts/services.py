"""Writes for accounts: sign-up, API tokens and training consent."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import User
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils import timezone

from .models import ApiToken, ConsentChange, Profile


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def user_signup(*, username: str, password: str, email: str = "", share_for_training: bool = False) -> User:
    user = User.objects.create_user(username=username, email=email, password=password)
    training_consent_set(
        user=user, actor=user, share_for_training=share_for_training, source=ConsentChange.Source.SIGNUP
    )
    return user


@transaction.atomic
def training_consent_set(
    *,
    user: User,
    actor: User | None,
    share_for_training: bool,
    source: str,
) -> Profile:
    profile, _ = Profile.objects.select_for_update().get_or_create(user=user)
    changed = profile.share_for_training != share_for_training or profile.consent_changed_at is None
    if changed:
        profile.share_for_training = share_for_training
        profile.consent_changed_at = timezone.now()
        profile.save(update_fields=["share_for_training", "consent_changed_at"])
        ConsentChange.objects.create(
            user=user, actor=actor, share_for_training=share_for_training, source=source
        )
    return profile


@transaction.atomic
def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a token and return it with its key. The key is not stored and cannot be shown again."""
    key = secrets.token_hex(20)
    token = ApiToken.objects.create(
        user=user, name=name.strip()[:100] or "API token", key_hash=hash_key(key), prefix=key[:8]
    )
    return token, key


@transaction.atomic
def api_token_revoke(*, user: User, token_id: int) -> ApiToken:
    token = get_object_or_404(ApiToken.objects.select_for_update(), pk=token_id, user=user)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def api_token_touch(*, token: ApiToken) -> None:
    """Record use, at most once a minute per token, so reads do not turn into writes."""
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
