"""Alert rules on the metric history, their audited edits, and the events they fire."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from linkhub.audit import AppendOnly, loose_ref


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
