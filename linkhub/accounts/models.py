"""Accounts: API tokens, the per-user profile (training consent), and consent history."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """A named API token. Only a SHA-256 of the key is stored; the key is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters of the key, so a person can tell tokens apart.
    prefix = models.CharField(max_length=8, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "revoked_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class TrainingConsent(models.TextChoices):
    """What a user's links, tags and decisions may train (DESIGN.md, "Train")."""

    NONE = "none", "None: my links and decisions train nothing"
    OWN = "own", "Own: they train my personal model only, never a model that serves anyone else"
    SHARED = "shared", "Shared: they train my personal model and the shared model"


class Profile(models.Model):
    """Per-user settings. A user without a row has consent ``none``: nothing trains on data a
    person never said anything about (sign-up records the operator's default, ``own`` unless set)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    training_consent = models.CharField(
        max_length=8, choices=TrainingConsent.choices, default=TrainingConsent.NONE
    )
    consent_changed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"profile of {self.user}"


class ConsentChange(models.Model):
    """Append-only history of training-consent changes (who, what, when, from where)."""

    class Source(models.TextChoices):
        UI = "ui", "web UI"
        API = "api", "API"
        ADMIN = "admin", "admin"
        SIGNUP = "signup", "sign-up"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consent_changes"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # "" for the first choice (at sign-up) and for changes recorded before there were three levels.
    from_consent = models.CharField(max_length=8, choices=TrainingConsent.choices, blank=True)
    to_consent = models.CharField(max_length=8, choices=TrainingConsent.choices)
    source = models.CharField(max_length=10, choices=Source.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        change = f"{self.from_consent or '-'} -> {self.to_consent}"
        return f"{self.user} consent {change} at {self.created_at:%Y-%m-%d %H:%M}"
