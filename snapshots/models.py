"""Snapshots of links: versions, content-addressed artifacts, provenance and failures."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Artifact(models.Model):
    """A stored file, once per content: the path is derived from its SHA-256."""

    sha256 = models.CharField(max_length=64, unique=True)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100)
    path = models.CharField(max_length=255)  # in the default storage
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.sha256[:12]} ({self.content_type}, {self.size} bytes)"


class FailureReason(models.TextChoices):
    DNS = "dns", "the host name could not be resolved"
    REFUSED = "refused", "the server refused the connection"
    TIMEOUT = "timeout", "the page took too long"
    TLS = "tls", "the secure connection failed"
    HTTP_4XX = "http_4xx", "the server answered with a client error"
    HTTP_5XX = "http_5xx", "the server answered with a server error"
    BLOCKED_ADDRESS = "blocked_address", "the address is private or reserved"
    TOO_LARGE = "too_large", "the page is too large"
    UNSUPPORTED_CONTENT = "unsupported_content", "the content type cannot be archived"
    BROWSER_CRASH = "browser_crash", "the browser crashed"
    SUSPECT = "suspect", "the capture looks wrong"
    WORKER_LOST = "worker_lost", "the worker stopped during the capture"
    INVALID_UPLOAD = "invalid_upload", "the uploaded file cannot be used"
    INTERNAL = "internal", "an internal error"


# Worth another try later: the same request may well work then.
TRANSIENT_REASONS = frozenset(
    {
        FailureReason.DNS,
        FailureReason.REFUSED,
        FailureReason.TIMEOUT,
        FailureReason.HTTP_5XX,
        FailureReason.BROWSER_CRASH,
        FailureReason.SUSPECT,
        FailureReason.WORKER_LOST,
    }
)


class Snapshot(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "waiting"
        RUNNING = "running", "capturing"
        SUCCEEDED = "succeeded", "captured"
        FAILED = "failed", "failed"

    class Source(models.TextChoices):
        SAVE = "save", "saved link"
        MANUAL = "manual", "re-snapshot"
        SCHEDULE = "schedule", "schedule"
        UPLOAD = "upload", "uploaded capture"
        RETRY = "retry", "manual retry"

    link = models.ForeignKey("links.Link", on_delete=models.CASCADE, related_name="snapshots")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.SAVE)
    requested_by = models.ForeignKey(
        "auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The URL asked for (the link's URL at request time) and where the browser ended up.
    url = models.URLField(max_length=2048)
    final_url = models.URLField(max_length=2048, blank=True)
    redirect_chain = models.JSONField(default=list, blank=True)  # [{"url", "status"}]
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=100, blank=True)

    # Metadata read from the page.
    title = models.CharField(max_length=1000, blank=True)
    description = models.TextField(blank=True)
    language = models.CharField(max_length=20, blank=True)
    canonical_url = models.URLField(max_length=2048, blank=True)
    favicon_url = models.URLField(max_length=2048, blank=True)
    preview_image_url = models.URLField(max_length=2048, blank=True)
    text_length = models.PositiveIntegerField(default=0)

    # Outcome.
    failure_reason = models.CharField(max_length=20, choices=FailureReason.choices, blank=True)
    failure_detail = models.TextField(blank=True)
    suspect_reason = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    # Browser version, viewport, wait strategy, timings per stage, bytes, blocked requests, errors.
    provenance = models.JSONField(default=dict, blank=True)

    requested_at = models.DateTimeField(default=timezone.now)
    # A retry waits until then; the sweep queues rows whose message was lost.
    not_before = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)

    artifacts: models.ManyToManyField = models.ManyToManyField(
        Artifact, through="SnapshotArtifact", related_name="snapshots"
    )

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["link", "version"], name="snapshot_unique_version"),
        ]
        indexes = [
            models.Index(fields=["status", "heartbeat_at"], name="snapshot_status_heartbeat"),
            models.Index(fields=["status", "not_before"], name="snapshot_status_not_before"),
        ]

    def __str__(self) -> str:
        return f"snapshot {self.pk} v{self.version} of link {self.link_id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    @property
    def is_good(self) -> bool:
        """Succeeded and not suspect: good enough to search and to tag from."""
        return self.status == self.Status.SUCCEEDED and not self.suspect_reason

    @property
    def failure_message(self) -> str:
        if not self.failure_reason:
            return ""
        label = FailureReason(self.failure_reason).label
        return f"{label[0].upper()}{label[1:]}: {self.failure_detail}" if self.failure_detail else label


class SnapshotArtifact(models.Model):
    class Name(models.TextChoices):
        SCREENSHOT = "screenshot.png", "screenshot"
        THUMBNAIL = "thumbnail.png", "thumbnail"
        PDF = "page.pdf", "PDF"
        HTML = "page.html", "archived page"
        TEXT = "text.txt", "readable text"
        ORIGINAL = "original", "original file"
        FAVICON = "favicon", "favicon"
        UPLOAD = "upload.html", "uploaded capture"

    snapshot = models.ForeignKey(Snapshot, on_delete=models.CASCADE, related_name="snapshot_artifacts")
    artifact = models.ForeignKey(Artifact, on_delete=models.PROTECT, related_name="uses")
    name = models.CharField(max_length=20, choices=Name.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "name"], name="snapshot_artifact_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} of snapshot {self.snapshot_id}"


class SnapshotSchedule(models.Model):
    """Re-snapshot a link every N days; each run makes a new version."""

    link = models.OneToOneField("links.Link", on_delete=models.CASCADE, related_name="snapshot_schedule")
    every_days = models.PositiveSmallIntegerField()
    next_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"every {self.every_days} days for link {self.link_id}"
