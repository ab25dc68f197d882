"""The tag model's life cycle: versions and their stages, suggestions, audited decisions, the
policy, training runs, metric history, drift checks and alerts.

Audit rows (``TagDecision``, ``StageEvent``, ``PolicyChange``, ``AlertRuleChange``) are
append-only: their model refuses updates and deletes, their queryset refuses bulk ones, the admin
shows them read-only, and on PostgreSQL a trigger refuses UPDATE and DELETE as well. They keep
plain copies of what they refer to (the link's URL, the actor's name), so they stay readable when a
link or a user is deleted, and refer to those rows without a database constraint.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditRowImmutable(Exception):
    """An attempt to change or delete an audit row."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditRowImmutable(f"{self.model.__name__} rows are append-only: they cannot be updated.")

    def delete(self):
        raise AuditRowImmutable(f"{self.model.__name__} rows are append-only: they cannot be deleted.")


class AppendOnly(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise AuditRowImmutable(f"{type(self).__name__} rows are append-only: they cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditRowImmutable(f"{type(self).__name__} rows are append-only: they cannot be deleted.")


def loose_ref(to, *, optional: bool = False, blank: bool | None = None, related_name: str = "+"):
    """A reference from an audit row that survives the row it points to: no database
    constraint, nothing done on delete (the row keeps plain copies, e.g. ``actor_name``)."""
    return models.ForeignKey(
        to,
        null=optional,
        blank=optional if blank is None else blank,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name=related_name,
    )


class Stage(models.TextChoices):
    CANDIDATE = "candidate", "candidate"
    SHADOW = "shadow", "shadow"
    CANARY = "canary", "canary"
    PRODUCTION = "production", "production"
    RETIRED = "retired", "retired"


class ModelVersion(models.Model):
    """One trained tag model, with everything needed to trust, reproduce and compare it."""

    number = models.PositiveIntegerField(unique=True)
    design = models.CharField(max_length=40)
    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.CANDIDATE, db_index=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    # The artifact, content-addressed: checked against sha256 before it is loaded.
    artifact_sha256 = models.CharField(max_length=64)
    artifact_path = models.CharField(max_length=255)
    artifact_size = models.PositiveBigIntegerField(default=0)
    format_version = models.PositiveIntegerField()
    # Lineage.
    sklearn_version = models.CharField(max_length=40)
    python_version = models.CharField(max_length=40)
    code_version = models.CharField(max_length=64, blank=True)
    params = models.JSONField(default=dict, blank=True)
    labels = models.JSONField(default=list, blank=True)  # the tag names it can predict
    data_fingerprint = models.CharField(max_length=64, db_index=True)
    data_summary = models.JSONField(default=dict, blank=True)  # source, examples, decisions, users
    holdout_fingerprint = models.CharField(max_length=64, blank=True)
    # Offline metrics on the fixed holdout, per-tag quality, the gate's verdict.
    metrics = models.JSONField(default=dict, blank=True)
    per_tag = models.JSONField(default=dict, blank=True)
    gate = models.JSONField(default=dict, blank=True)
    # The training data's profile, for drift checks (mlops/training/drift.py describes it).
    reference = models.JSONField(default=dict, blank=True)
    train_seconds = models.FloatField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    stage_changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"v{self.number} ({self.design}, {self.stage})"


class StageEvent(AppendOnly):
    """A change of a version's stage: who, why, when. Answers "what was in production at T"."""

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="stage_events")
    from_stage = models.CharField(max_length=12, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=12, choices=Stage.choices)
    actor = loose_ref(settings.AUTH_USER_MODEL, optional=True)
    actor_name = models.CharField(max_length=150)  # "system" for automatic changes
    automatic = models.BooleanField(default=False)
    reason = models.TextField()
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"v{self.version.number}: {self.from_stage or '-'} -> {self.to_stage} by {self.actor_name}"


class Policy(models.Model):
    """The deployment's rules for the model, edited by model owners (one row, pk=1)."""

    auto_apply_threshold = models.FloatField(default=0.9)
    suggest_threshold = models.FloatField(default=0.35)
    max_suggestions = models.PositiveSmallIntegerField(default=5)
    min_examples = models.PositiveIntegerField(default=3)
    global_tags = models.JSONField(default=list, blank=True)  # suggested to everyone
    # Training.
    retrain_after_decisions = models.PositiveIntegerField(default=200)
    # Promotion gate: better on the primary metric by the margin, no worse than the tolerance elsewhere.
    primary_metric = models.CharField(max_length=40, default="recall_at_3")
    gate_margin = models.FloatField(default=0.005)
    gate_tolerance = models.FloatField(default=0.02)
    # Roll-out.
    shadow_min_links = models.PositiveIntegerField(default=50)
    canary_percent = models.PositiveSmallIntegerField(default=20)
    canary_min_decisions = models.PositiveIntegerField(default=30)
    canary_max_drop = models.FloatField(default=0.05)  # acceptance below production's by more: roll back
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "policy"

    def __str__(self) -> str:
        return (
            f"auto-apply >= {self.auto_apply_threshold}, suggest >= {self.suggest_threshold}, "
            f"min {self.min_examples} examples"
        )


class PolicyChange(AppendOnly):
    actor = loose_ref(settings.AUTH_USER_MODEL, optional=True, blank=False)
    actor_name = models.CharField(max_length=150)
    changes = models.JSONField()  # {field: [old, new]}
    reason = models.TextField()
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.actor_name} changed {', '.join(self.changes)} at {self.at:%Y-%m-%d %H:%M}"


class Suggestion(models.Model):
    class Status(models.TextChoices):
        PROPOSED = "proposed", "proposed"
        ACCEPTED = "accepted", "accepted"
        REJECTED = "rejected", "rejected"
        AUTO_APPLIED = "auto_applied", "auto-applied"
        REVERTED = "reverted", "reverted"
        EXPIRED = "expired", "expired"

    link = models.ForeignKey("links.Link", on_delete=models.CASCADE, related_name="suggestions")
    tag_name = models.CharField(max_length=100)
    tag_key = models.CharField(max_length=200, db_index=True)
    score = models.FloatField()
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="suggestions")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PROPOSED, db_index=True)
    # Shadow output is stored and measured, never shown or applied.
    visible = models.BooleanField(default=True)
    explanation = models.JSONField(default=list, blank=True)  # [[term, weight], ...]
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-score"]
        constraints = [
            models.UniqueConstraint(
                fields=["link", "tag_key", "model_version"], name="suggestion_unique_per_version"
            )
        ]
        indexes = [models.Index(fields=["status", "visible", "score"])]

    def __str__(self) -> str:
        return f"{self.tag_name} ({self.score:.2f}, v{self.model_version.number}, {self.status})"


class ReviewQueueItem(Suggestion):
    """The review queue's rows: open, visible suggestions, most uncertain first. A proxy (no
    table of its own), so that the queue has its own admin next to the list of all suggestions."""

    class Meta:
        proxy = True
        verbose_name = "review queue item"
        verbose_name_plural = "review queue"


class TagDecision(AppendOnly):
    """A person's (or the model's auto-apply) decision on one tag of one link."""

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

    link = loose_ref("links.Link")
    link_owner = loose_ref(settings.AUTH_USER_MODEL)
    link_url = models.URLField(max_length=2048)
    tag_name = models.CharField(max_length=100)
    tag_key = models.CharField(max_length=200, db_index=True)
    action = models.CharField(max_length=12, choices=Action.choices)
    actor = loose_ref(settings.AUTH_USER_MODEL, optional=True)
    actor_name = models.CharField(max_length=150)  # "model" for auto-apply
    reason = models.TextField(blank=True)
    source = models.CharField(max_length=8, choices=Source.choices)
    suggestion = loose_ref(Suggestion, optional=True)
    model_version = loose_ref(ModelVersion, optional=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["link", "tag_key"])]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.tag_name!r} on {self.link_url}"


class TrainingRun(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "waiting"
        RUNNING = "running", "training"
        SUCCEEDED = "succeeded", "done"
        SKIPPED = "skipped", "skipped"
        FAILED = "failed", "failed"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "schedule"
        DECISIONS = "decisions", "new decisions"
        MANUAL = "manual", "by hand"
        API = "api", "API"
        DATASET = "dataset", "dataset file"
        ALERT = "alert", "alert"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    design = models.CharField(max_length=40, blank=True)
    dataset = models.CharField(max_length=500, blank=True)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    fingerprint = models.CharField(max_length=64, blank=True)
    version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="training_runs"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"training run {self.pk} ({self.trigger}, {self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.SKIPPED, self.Status.FAILED)


class MetricPoint(models.Model):
    """A value of a named metric at a time, optionally for one model version: the history that
    charts and alert rules read (online acceptance, offline metrics, drift, pipeline health)."""

    name = models.CharField(max_length=80)
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.CASCADE, related_name="metric_points"
    )
    value = models.FloatField()
    count = models.PositiveIntegerField(default=0)  # the sample behind the value
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["recorded_at", "id"]
        indexes = [models.Index(fields=["name", "model_version", "recorded_at"])]

    def __str__(self) -> str:
        return f"{self.name}={self.value:.4g} at {self.recorded_at:%Y-%m-%d %H:%M}"


# --- drift and data quality ---------------------------------------------------------------------


class DriftRun(models.Model):
    """One check of the recent window's inputs and outputs against the production version's
    training reference, with the data-quality checks of the same window."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "schedule"
        MANUAL = "manual", "by hand"
        API = "api", "API"

    class Status(models.TextChoices):
        RUNNING = "running", "running"
        DONE = "done", "done"
        FAILED = "failed", "failed"
        SKIPPED = "skipped", "skipped"

    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING, db_index=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reference_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="drift_runs"
    )
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    n_current = models.PositiveIntegerField(default=0)  # links in the window
    message = models.TextField(blank=True)
    drifted = models.BooleanField(default=False)  # any feature drifted (data quality aside)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)  # set by the worker that claims the run
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"drift run {self.pk} ({self.trigger}, {self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status != self.Status.RUNNING


class DriftResult(models.Model):
    """One feature's check in a drift run: the method its data allowed, the statistic, the verdict."""

    class Kind(models.TextChoices):
        NUMERIC = "numeric", "numeric"
        CATEGORICAL = "categorical", "categorical"
        TEXT = "text", "text"
        PREDICTION = "prediction", "prediction"
        QUALITY = "quality", "data quality"

    class Method(models.TextChoices):
        KS = "ks", "Kolmogorov–Smirnov"
        CHI2 = "chi2", "chi-square"
        PSI = "psi", "population stability index"
        DOMAIN_CLASSIFIER = "domain_classifier", "domain classifier (ROC AUC)"
        RATE = "rate", "rate"
        INSUFFICIENT_DATA = "insufficient_data", "insufficient data"

    run = models.ForeignKey(DriftRun, on_delete=models.CASCADE, related_name="results")
    feature = models.CharField(max_length=60)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    method = models.CharField(max_length=20, choices=Method.choices)
    statistic = models.FloatField(null=True, blank=True)  # KS D, chi-square, PSI, AUC or a rate
    p_value = models.FloatField(null=True, blank=True)
    threshold = models.FloatField()  # p-value below, or statistic at or above (a rate: above)
    drifted = models.BooleanField(default=False)
    n_reference = models.PositiveIntegerField(default=0)
    n_current = models.PositiveIntegerField(default=0)
    details = models.JSONField(default=dict, blank=True)  # {"reason": why this method, ...}

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["run", "feature"], name="driftresult_unique_feature")]

    def __str__(self) -> str:
        value = "—" if self.statistic is None else f"{self.statistic:.4g}"
        return f"{self.feature}: {self.method} {value}{' (drift)' if self.drifted else ''}"


# --- alerts -------------------------------------------------------------------------------------


class AlertRule(models.Model):
    """Watches one metric: the mean of its points over the window, compared with a threshold.
    Model owners edit, snooze and disable rules; every edit is an ``AlertRuleChange``."""

    class Comparison(models.TextChoices):
        GT = "gt", ">"
        GE = "ge", "≥"
        LT = "lt", "<"
        LE = "le", "≤"

    class Severity(models.TextChoices):
        INFO = "info", "info"
        WARNING = "warning", "warning"
        CRITICAL = "critical", "critical"

    name = models.CharField(max_length=120, unique=True)
    metric = models.CharField(max_length=80, db_index=True)  # a MetricPoint name
    comparison = models.CharField(max_length=2, choices=Comparison.choices)  # fires when value <op> threshold
    threshold = models.FloatField()
    window_minutes = models.PositiveIntegerField(default=60)
    severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.WARNING)
    enabled = models.BooleanField(default=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    notify_emails = models.JSONField(default=list, blank=True)
    notify_webhook = models.URLField(max_length=500, blank=True)  # Slack-compatible JSON is posted
    retrain_on_fire = models.BooleanField(default=False)
    description = models.TextField(blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.metric} {self.get_comparison_display()} {self.threshold:g})"

    def breaches(self, value: float) -> bool:
        return {
            self.Comparison.GT: value > self.threshold,
            self.Comparison.GE: value >= self.threshold,
            self.Comparison.LT: value < self.threshold,
            self.Comparison.LE: value <= self.threshold,
        }[self.Comparison(self.comparison)]

    def is_snoozed(self, at=None) -> bool:
        return self.snoozed_until is not None and self.snoozed_until > (at or timezone.now())


class AlertRuleChange(AppendOnly):
    """An edit of an alert rule (creation, thresholds, snooze, disable): who, what, when, why."""

    rule = loose_ref(AlertRule, related_name="changes")
    rule_name = models.CharField(max_length=120)
    actor = loose_ref(settings.AUTH_USER_MODEL, optional=True, blank=False)
    actor_name = models.CharField(max_length=150)
    changes = models.JSONField()  # {field: [old, new]}; a new rule's old values are null
    reason = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.actor_name} changed {', '.join(self.changes)} of {self.rule_name!r}"


class AlertEvent(models.Model):
    """A rule that fired: open (firing, then perhaps acknowledged) until its metric recovers."""

    class State(models.TextChoices):
        FIRING = "firing", "firing"
        ACKNOWLEDGED = "acknowledged", "acknowledged"
        RESOLVED = "resolved", "resolved"

    OPEN = (State.FIRING, State.ACKNOWLEDGED)

    rule = models.ForeignKey(AlertRule, on_delete=models.PROTECT, related_name="events")
    state = models.CharField(max_length=12, choices=State.choices, default=State.FIRING, db_index=True)
    message = models.TextField()  # what went wrong, what was expected, what was seen, over which window
    observed = models.FloatField()
    breach_started_at = models.DateTimeField()  # the first breaching point
    fired_at = models.DateTimeField(default=timezone.now, db_index=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)  # why it closed: the metric recovered, the rule was disabled
    notifications = models.JSONField(default=list, blank=True)  # [{channel, ok, detail, at}]

    class Meta:
        ordering = ["-fired_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule"],
                condition=models.Q(state__in=["firing", "acknowledged"]),
                name="alertevent_one_open_per_rule",
            )
        ]

    def __str__(self) -> str:
        return f"{self.rule.name}: {self.state} since {self.fired_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN
