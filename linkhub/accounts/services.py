"""Writes for accounts: sign-up, API tokens and training consent."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils import timezone

from .models import ApiToken, ConsentChange, Profile, TrainingConsent
from .signals import consent_changed


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def user_signup(
    *, username: str, password: str, email: str = "", training_consent: str | None = None
) -> User:
    """Create the account with the training consent the person chose (the operator's default,
    ``DEFAULT_TRAINING_CONSENT``, when they did not choose)."""
    user = User.objects.create_user(username=username, email=email, password=password)
    training_consent_set(
        user=user,
        actor=user,
        consent=training_consent or settings.DEFAULT_TRAINING_CONSENT,
        source=ConsentChange.Source.SIGNUP,
    )
    return user


@transaction.atomic
def training_consent_set(
    *,
    user: User,
    actor: User | None,
    consent: str,
    source: str,
) -> Profile:
    """Set what the user's data may train, and record the change (who, when, from, to, where)."""
    if consent not in TrainingConsent.values:
        raise ValidationError({"training_consent": f"Choose one of: {', '.join(TrainingConsent.values)}."})
    profile, created = Profile.objects.select_for_update().get_or_create(user=user)
    before = "" if created or profile.consent_changed_at is None else profile.training_consent
    if before != consent:
        profile.training_consent = consent
        profile.consent_changed_at = timezone.now()
        profile.save(update_fields=["training_consent", "consent_changed_at"])
        ConsentChange.objects.create(
            user=user, actor=actor, from_consent=before, to_consent=consent, source=source
        )
        consent_changed.send(sender=Profile, user_id=user.pk, from_consent=before, to_consent=consent)
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
