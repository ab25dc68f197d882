"""Drift checks, alert rules and alert events in the admin.

Alert rules are edited by model owners (and superusers) through ``alerts.alert_rule_save``, which
writes an ``AlertRuleChange`` for every edit; the actions snooze (1 h, 24 h), wake and disable
rules the same way. Alert events are read-only except for the "Acknowledge" action (model owners
and reviewers). Drift runs, their results and the rules' history are read-only. Any staff member
may look at all of these: they hold no user's links.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator

from ..models import AlertEvent, AlertRule, AlertRuleChange, DriftResult, DriftRun
from ..services.alerts import (
    EDITABLE,
    AlertStateError,
    alert_acknowledge,
    alert_rule_save,
    alert_rule_validate,
    alert_snooze,
    window_text,
)
from .base import (
    MAX_PER_ACTION,
    ReadOnlyAdmin,
    actor_of,
    can_own_models,
    can_review,
    error_text,
    is_staff,
    json_column,
    refuse,
)


def _fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}g}"


# --- alert rules --------------------------------------------------------------------------------


class AlertRuleForm(forms.ModelForm):
    notify_webhook = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text="Slack-compatible JSON is posted here when the rule fires and when it resolves.",
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
        max_length=2000,
        required=False,
        help_text="Recorded with the change in the rule's history.",
    )

    class Meta:
        model = AlertRule
        fields = list(EDITABLE)

    def clean_notify_emails(self) -> Any:
        value = self.cleaned_data.get("notify_emails")
        return [] if value is None else value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        values = {name: cleaned.get(name, getattr(self.instance, name)) for name in EDITABLE}
        try:
            alert_rule_validate(values, rule_pk=self.instance.pk)
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                if name not in self.errors:
                    self.add_error(name if name in self.fields else None, errors)
        return cleaned


class AlertRuleChangeInline(admin.TabularInline):
    model = AlertRuleChange
    extra = 0
    max_num = 0
    can_delete = False
    fields = ("at", "actor_name", "changes", "reason")
    readonly_fields = fields
    ordering = ("-at", "-id")

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return is_staff(request.user)

    has_add_permission = has_change_permission = has_delete_permission = refuse


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    form = AlertRuleForm
    actions = ["snooze_1h", "snooze_24h", "wake_up", "disable", "enable"]
    list_display = (
        "name",
        "condition",
        "severity",
        "enabled",
        "snoozed_until",
        "retrain_on_fire",
        "updated_by",
        "updated_at",
    )
    list_filter = ("severity", "enabled", "metric")
    search_fields = ("name", "metric", "description")
    list_select_related = ("updated_by",)
    readonly_fields = ("updated_at", "updated_by")
    inlines = [AlertRuleChangeInline]
    fieldsets = [
        (None, {"fields": ["name", "description", "severity", "enabled"]}),
        ("Condition", {"fields": ["metric", "comparison", "threshold", "window_minutes"]}),
        (
            "When it fires",
            {"fields": ["notify_emails", "notify_webhook", "retrain_on_fire", "snoozed_until"]},
        ),
        ("Last change", {"fields": ["updated_at", "updated_by"]}),
    ]

    @admin.display(description="fires when")
    def condition(self, obj: AlertRule) -> str:
        return (
            f"mean of {obj.metric} over {window_text(obj.window_minutes)} "
            f"{obj.get_comparison_display()} {obj.threshold:g}"
        )

    def has_module_permission(self, request: HttpRequest) -> bool:
        return super().has_module_permission(request) or is_staff(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return super().has_view_permission(request, obj) or is_staff(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return can_own_models(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return can_own_models(request.user)

    has_delete_permission = refuse  # disable a rule instead: its events keep their history

    def has_model_owner_permission(self, request: HttpRequest) -> bool:
        return can_own_models(request.user)

    def get_fieldsets(self, request: HttpRequest, obj: Model | None = None) -> Any:
        fieldsets = list(self.fieldsets or [])
        if self.has_change_permission(request, obj):
            fieldsets.append(("Why", {"fields": ["reason"]}))
        return fieldsets

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        names = form.changed_data if change else list(EDITABLE)
        changes = {name: form.cleaned_data[name] for name in names if name in EDITABLE}
        rule = alert_rule_save(
            actor=actor_of(request),
            rule=obj if change else None,
            changes=changes,
            reason=form.cleaned_data.get("reason", ""),
        )
        # The service saved the row; the admin's log entry and redirect need its key.
        obj.pk = rule.pk
        obj._state.adding = False
        obj.updated_at, obj.updated_by = rule.updated_at, rule.updated_by

    def _each(self, request: HttpRequest, queryset: QuerySet[Any], done: str, change) -> None:
        actor = actor_of(request)
        names: list[str] = []
        failures: list[str] = []
        for rule in queryset[:MAX_PER_ACTION]:
            try:
                change(rule, actor)
            except (ValidationError, PermissionDenied) as exc:
                failures.append(f"{rule.name}: {error_text(exc)}")
            else:
                names.append(rule.name)
        if names:
            self.message_user(request, f"{done}: {', '.join(names)}.", messages.SUCCESS)
        for text in failures:
            self.message_user(request, text, messages.ERROR)

    def _snooze(self, request: HttpRequest, queryset: QuerySet[Any], hours: int) -> None:
        until = timezone.now() + timedelta(hours=hours)
        self._each(
            request,
            queryset,
            f"Snoozed until {until:%Y-%m-%d %H:%M} UTC",
            lambda rule, actor: alert_snooze(
                rule=rule, until=until, actor=actor, reason=f"snoozed for {hours} h in the admin"
            ),
        )

    @admin.action(description="Snooze for 1 hour", permissions=["model_owner"])
    def snooze_1h(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._snooze(request, queryset, 1)

    @admin.action(description="Snooze for 24 hours", permissions=["model_owner"])
    def snooze_24h(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._snooze(request, queryset, 24)

    @admin.action(description="Wake up (end the snooze)", permissions=["model_owner"])
    def wake_up(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._each(
            request,
            queryset,
            "Awake",
            lambda rule, actor: alert_snooze(
                rule=rule, until=None, actor=actor, reason="woken up in the admin"
            ),
        )

    @admin.action(description="Disable", permissions=["model_owner"])
    def disable(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._each(
            request,
            queryset,
            "Disabled",
            lambda rule, actor: alert_rule_save(
                actor=actor, rule=rule, changes={"enabled": False}, reason="disabled in the admin"
            ),
        )

    @admin.action(description="Enable", permissions=["model_owner"])
    def enable(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._each(
            request,
            queryset,
            "Enabled",
            lambda rule, actor: alert_rule_save(
                actor=actor, rule=rule, changes={"enabled": True}, reason="enabled in the admin"
            ),
        )


@admin.register(AlertRuleChange)
class AlertRuleChangeAdmin(ReadOnlyAdmin):
    view_roles = (is_staff,)
    list_display = ("at", "rule_name", "actor_name", "changed_fields", "reason")
    list_filter = ("at", "actor_name")
    search_fields = ("rule_name", "actor_name", "reason")
    date_hierarchy = "at"

    @admin.display(description="changed")
    def changed_fields(self, obj: AlertRuleChange) -> str:
        return ", ".join(obj.changes or {})


# --- alert events -------------------------------------------------------------------------------


@admin.register(AlertEvent)
class AlertEventAdmin(ReadOnlyAdmin):
    view_roles = (is_staff,)
    actions = ["acknowledge"]
    list_display = (
        "fired_at",
        "rule",
        "state",
        "severity",
        "short_message",
        "acknowledged_by",
        "acknowledged_at",
        "resolved_at",
    )
    list_filter = ("state", "rule__severity", ("rule", admin.RelatedOnlyFieldListFilter), "fired_at")
    search_fields = ("message", "rule__name", "rule__metric")
    list_select_related = ("rule", "acknowledged_by")
    date_hierarchy = "fired_at"
    readonly_fields = ("notifications_pretty",)
    fieldsets = [
        (None, {"fields": ["rule", "state", "message", "observed"]}),
        (
            "Times",
            {
                "fields": [
                    "breach_started_at",
                    "fired_at",
                    "acknowledged_at",
                    "acknowledged_by",
                    "resolved_at",
                ]
            },
        ),
        ("Resolution and notifications", {"fields": ["resolution", "notifications_pretty"]}),
    ]

    notifications_pretty = json_column("notifications", "notifications")

    @admin.display(description="severity", ordering="rule__severity")
    def severity(self, obj: AlertEvent) -> str:
        return obj.rule.severity

    @admin.display(description="message")
    def short_message(self, obj: AlertEvent) -> str:
        return Truncator(obj.message).chars(120)

    def has_acknowledge_permission(self, request: HttpRequest) -> bool:
        return can_own_models(request.user) or can_review(request.user)

    @admin.action(description="Acknowledge", permissions=["acknowledge"])
    def acknowledge(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        actor = actor_of(request)
        done = 0
        failures: list[str] = []
        for event in queryset.select_related("rule")[:MAX_PER_ACTION]:
            try:
                alert_acknowledge(event=event, actor=actor)
            except (AlertStateError, PermissionDenied) as exc:
                failures.append(f"{event.rule.name} ({event.fired_at:%Y-%m-%d %H:%M}): {exc}")
            else:
                done += 1
        if done:
            self.message_user(
                request, f"{done} alert{'s' if done != 1 else ''} acknowledged.", messages.SUCCESS
            )
        for text in failures:
            self.message_user(request, text, messages.ERROR)


# --- drift runs ---------------------------------------------------------------------------------


class DriftResultInline(admin.TabularInline):
    model = DriftResult
    extra = 0
    max_num = 0
    can_delete = False
    fields = (
        "feature",
        "kind",
        "method",
        "statistic_display",
        "p_value_display",
        "threshold",
        "drifted",
        "n_reference",
        "n_current",
        "reason",
    )
    readonly_fields = fields

    @admin.display(description="statistic")
    def statistic_display(self, obj: DriftResult) -> str:
        return _fmt(obj.statistic)

    @admin.display(description="p-value")
    def p_value_display(self, obj: DriftResult) -> str:
        return _fmt(obj.p_value, 2)

    @admin.display(description="why this method")
    def reason(self, obj: DriftResult) -> str:
        return str((obj.details or {}).get("reason", ""))

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return is_staff(request.user)

    has_add_permission = has_change_permission = has_delete_permission = refuse


@admin.register(DriftRun)
class DriftRunAdmin(ReadOnlyAdmin):
    view_roles = (is_staff,)
    list_display = ("created_at", "trigger", "status", "version_link", "n_current", "drifted", "summary")
    list_filter = ("status", "trigger", "drifted", "created_at")
    search_fields = ("message",)
    list_select_related = ("reference_version",)
    date_hierarchy = "created_at"
    inlines = [DriftResultInline]

    @admin.display(description="message")
    def summary(self, obj: DriftRun) -> str:
        return Truncator(obj.message).chars(140)

    @admin.display(description="reference", ordering="reference_version__number")
    def version_link(self, obj: DriftRun) -> SafeString | str:
        if obj.reference_version is None:
            return "—"
        url = reverse("admin:mlops_modelversion_change", args=[obj.reference_version.pk])
        return format_html('<a href="{}">v{}</a>', url, obj.reference_version.number)
