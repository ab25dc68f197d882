"""What every user's suggestions rest on: each link's cached embedding, and the live state of a
user's personal model (the registry version it started from, plus incremental updates)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from .versions import ModelVersion


class LinkEmbedding(models.Model):
    """A link's sentence embedding, computed once (when the link is saved, again when its snapshot
    text arrives) and re-used by personal models, zero-shot suggestions, training and drift."""

    link = models.OneToOneField("links.Link", on_delete=models.CASCADE, primary_key=True, related_name="+")
    encoder = models.CharField(max_length=60)
    # sha256 of the text that was embedded: a link whose text changed is embedded again.
    text_sha256 = models.CharField(max_length=64, db_index=True)
    vector = models.BinaryField()  # float16, little-endian, unit length
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"embedding of link {self.link_id} ({self.encoder})"


class PersonalModelState(models.Model):
    """The personal model that serves a user now: the registry version of its last full training,
    with the incremental updates applied since (``updates``). ``revision`` grows with every
    change, so a worker's cached copy knows when it is stale."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    artifact = models.BinaryField()
    artifact_size = models.PositiveIntegerField(default=0)
    revision = models.PositiveIntegerField(default=1)
    updates = models.PositiveIntegerField(default=0)
    last_decision_id = models.BigIntegerField(default=0)  # decisions up to this one are in it
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"personal model of user {self.user_id}: v{self.version.number} + {self.updates} updates"
