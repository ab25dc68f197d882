"""Links, per-user tags (django-taggit with a custom tag model), the audit of every tag change, and
bookmark imports."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils import timezone
from django.utils.text import slugify
from taggit.managers import TaggableManager
from taggit.models import ItemBase, TagBase

from linkhub.audit import AppendOnly, loose_ref

URL_MAX_LENGTH = 2048
TITLE_MAX_LENGTH = 512
DESCRIPTION_MAX_LENGTH = 10_000
NOTES_MAX_LENGTH = 100_000
TAG_MAX_LENGTH = 100
TAGS_PER_LINK_MAX = 100


def tag_key(name: str) -> str:
    """What makes two tag names the same tag: case-folded (Unicode-aware), spaces collapsed, a
    comma read as a space (tag names are stored without commas: "money, budgeting" is saved as
    "money budgeting", and a model's label with the comma must find it)."""
    return " ".join(name.replace(",", " ").split()).casefold()


class Tag(TagBase):
    """A tag in one user's vocabulary. Names are unique per user, ignoring case."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="link_tags")
    # TagBase makes name and slug globally unique; here they are unique per owner.
    name = models.CharField(max_length=TAG_MAX_LENGTH)
    slug = models.SlugField(max_length=TAG_MAX_LENGTH, allow_unicode=True)
    # tag_key(name): SQLite's LOWER() only folds ASCII, so matching ignores case through this.
    key = models.CharField(max_length=TAG_MAX_LENGTH * 2, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="tag_unique_key_per_owner"),
        ]
        indexes = [models.Index(fields=["owner", "name"])]

    def slugify(self, tag: str, i: int | None = None) -> str:
        return slugify(tag, allow_unicode=True)[:TAG_MAX_LENGTH] or "tag"

    def save(self, *args, **kwargs):
        # TagBase.save retries on a globally unique slug; ours is not unique, so keep it simple.
        if not self.slug:
            self.slug = self.slugify(self.name)
        self.key = tag_key(self.name)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "name" in update_fields:
            kwargs["update_fields"] = {*update_fields, "key"}
        models.Model.save(self, *args, **kwargs)


class TagOrigin(models.TextChoices):
    USER = "user", "set by a person"
    IMPORT = "import", "imported"
    MODEL = "model", "applied by the model"


class TaggedLink(ItemBase):
    """A tag on a link, with where it came from. Model-applied tags stay marked until confirmed."""

    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="tagged_links")
    content_object = models.ForeignKey("Link", on_delete=models.CASCADE, related_name="tagged_items")
    origin = models.CharField(max_length=10, choices=TagOrigin.choices, default=TagOrigin.USER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["content_object", "tag"], name="taggedlink_unique"),
        ]
        indexes = [models.Index(fields=["tag", "content_object"])]


class Link(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="links")
    # Normalised (see normalize.py); unique per owner.
    url = models.URLField(max_length=URL_MAX_LENGTH)
    domain = models.CharField(max_length=255, db_index=True)
    title = models.CharField(max_length=TITLE_MAX_LENGTH, blank=True)
    description = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    is_read = models.BooleanField(default=False)
    is_private = models.BooleanField(default=False)
    # The readable text of the latest good snapshot; the snapshots app fills it, search uses it.
    content_text = models.TextField(blank=True)
    # PostgreSQL only: kept up to date by services.link_search_refresh. Unused on SQLite.
    search_vector = SearchVectorField(null=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    tags = TaggableManager(through=TaggedLink, blank=True, related_name="links")

    # Not a field: selectors.links_attach_tags sets it to [LinkTag] for lists and detail pages.
    tag_list: list[Any]

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "url"], name="link_unique_url_per_owner"),
        ]
        indexes = [
            models.Index(fields=["owner", "-created_at", "-id"], name="link_owner_created"),
            models.Index(fields=["owner", "is_read"], name="link_owner_read"),
        ]

    def __str__(self) -> str:
        return self.title or self.url

    @property
    def display_title(self) -> str:
        return self.title or self.url


class TagDecision(AppendOnly):
    """One change of one tag on one link, or a decision about a suggested tag: who, what, why,
    when, from where. Append-only. Written by ``services.tags`` in the transaction of the change,
    whatever the path: the pages, the API, bulk actions, imports, merges, deletions, the admin,
    the model's auto-apply and a reviewer's decision.

    ``suggestion_id`` and ``model_version_id`` name the suggestion (and its model version) the
    decision answers when the caller knew it (the mlops app, for its own suggestions); they are
    plain numbers, since this app knows nothing of the model."""

    class Action(models.TextChoices):
        ACCEPT = "accept", "accept"
        REJECT = "reject", "reject"
        ADD = "add", "add"
        REMOVE = "remove", "remove"
        AUTO_APPLY = "auto_apply", "auto-apply (model)"

    class Source(models.TextChoices):
        UI = "ui", "web UI"
        API = "api", "API"
        ADMIN = "admin", "admin"
        IMPORT = "import", "import"
        CLI = "cli", "command line"
        MODEL = "model", "model"

    link = loose_ref("Link")
    link_owner = loose_ref(settings.AUTH_USER_MODEL)
    link_url = models.URLField(max_length=URL_MAX_LENGTH)
    tag_name = models.CharField(max_length=TAG_MAX_LENGTH)
    tag_key = models.CharField(max_length=TAG_MAX_LENGTH * 2, db_index=True)
    action = models.CharField(max_length=12, choices=Action.choices)
    actor = loose_ref(settings.AUTH_USER_MODEL, optional=True)
    actor_name = models.CharField(max_length=150)  # "model" for auto-apply
    reason = models.TextField(blank=True)
    source = models.CharField(max_length=8, choices=Source.choices)
    suggestion_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    model_version_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        # The name it had when the table belonged to the mlops app.
        indexes = [models.Index(fields=["link", "tag_key"], name="mlops_tagde_link_id_dcfd10_idx")]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.tag_name!r} on {self.link_url}"


class ImportJob(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "waiting"
        RUNNING = "running", "importing"
        SUCCEEDED = "succeeded", "done"
        FAILED = "failed", "failed"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="import_jobs")
    source_name = models.CharField(max_length=255, blank=True)
    file = models.FileField(upload_to="imports/%Y/%m/", max_length=255)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    existing = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    # The first few entries that failed, with a reason each: [{"url": ..., "reason": ...}].
    errors = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Set after every batch; an import that stops moving is failed by the sweep.
    progressed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"import {self.pk} ({self.source_name}) {self.status}"

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else (100 if self.is_finished else 0)

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)
