"""Alert rules and their events.

A rule watches one metric (a ``MetricPoint`` name): the value it judges is the mean of the
metric's points recorded in the last ``window_minutes``; without points there is no verdict and
nothing changes. When the value breaches the threshold, an event fires (one open event per rule
at a time), and the rule's e-mail addresses and webhook are told; when it no longer breaches, the
open event resolves. People acknowledge events; model owners edit, snooze and disable rules,
each edit an ``AlertRuleChange`` written in the same transaction.

Snoozing silences a rule: while it is snoozed no new event fires and nobody is notified. It
does not close an event already open: that one stays open (and can be acknowledged) until the
metric recovers, when it resolves as usual, without a notification while the snooze lasts.
Disabling a rule resolves its open event.

A notification that fails (an unreachable webhook, a mail server that refuses) is recorded on
the event with what went wrong, and never stops the evaluation of the other rules.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.core.validators import URLValidator, validate_email
from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, Q
from django.utils import timezone

from linkhub.accounts.roles import is_model_owner, is_reviewer

from ..models import AlertEvent, AlertRule, AlertRuleChange, MetricPoint, TrainingRun
from .registry import check_model_owner
from .training import training_request

logger = logging.getLogger(__name__)

WEBHOOK_TIMEOUT = 5.0  # seconds, for each of connect, write and read
# The condition that breaches, and what is expected instead.
BREACH = {"gt": ">", "ge": "≥", "lt": "<", "le": "≤"}
EXPECTED = {"gt": "≤", "ge": "<", "lt": "≥", "le": ">"}
COLORS = {"info": "#439FE0", "warning": "warning", "critical": "danger"}  # Slack's names
RESOLVED_COLOR = "good"
EDITABLE: tuple[str, ...] = (
    "name",
    "metric",
    "comparison",
    "threshold",
    "window_minutes",
    "severity",
    "enabled",
    "snoozed_until",
    "notify_emails",
    "notify_webhook",
    "retrain_on_fire",
    "description",
)
REQUIRED = ("name", "metric", "comparison", "threshold")
MAX_WINDOW_MINUTES = 31 * 24 * 60
MAX_EMAILS = 20
METRIC_NAME = re.compile(r"^[a-z][a-z0-9_]{0,79}$")


class AlertStateError(Exception):
    """The event cannot make this change, e.g. acknowledging an alert that has resolved."""


# --- words and numbers ------------------------------------------------------------------------


def _num(value: float) -> str:
    if value == 0 or 0.01 <= abs(value) < 1000:
        return f"{value:.2f}"
    return f"{value:.3g}"


def window_text(minutes: int) -> str:
    if minutes >= 2 * 1440 and minutes % 1440 == 0:
        return f"{minutes // 1440} days"
    if minutes >= 120 and minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"


def _reading_text(rule: AlertRule, mean: float, count: int) -> str:
    return (
        f"{_num(mean)} (mean of {count} point{'s' if count != 1 else ''} over the last "
        f"{window_text(rule.window_minutes)}); expected {EXPECTED[rule.comparison]} {_num(rule.threshold)}."
    )


def alert_message(rule: AlertRule, mean: float, count: int) -> str:
    """E.g. "online_acceptance_rate is 0.31 (mean of 4 points over the last 60 min); expected
    ≥ 0.40." """
    return f"{rule.metric} is {_reading_text(rule, mean, count)}"


# --- evaluation -------------------------------------------------------------------------------


def _points(rule: AlertRule, now: datetime):
    since = now - timedelta(minutes=rule.window_minutes)
    points = MetricPoint.objects.filter(name=rule.metric, recorded_at__gt=since, recorded_at__lte=now)
    if rule.metric.startswith("online_"):
        # Online metrics are per version: a rule watches the version people are served.
        points = points.filter(Q(labels__stage="production") | ~Q(labels__has_key="stage"))
    return points


def _reading(rule: AlertRule, now: datetime) -> tuple[float, int] | None:
    agg = _points(rule, now).aggregate(mean=Avg("value"), n=Count("id"))
    if not agg["n"]:
        return None
    return float(agg["mean"]), int(agg["n"])


def _breach_start(rule: AlertRule, now: datetime) -> datetime:
    """The time of the window's first point that breaches on its own (a mean that breaches has
    at least one)."""
    for at, value in _points(rule, now).order_by("recorded_at", "id").values_list("recorded_at", "value"):
        if rule.breaches(value):
            return at
    return now


def alerts_evaluate(*, now: datetime | None = None) -> dict[str, int]:
    """Judge every enabled rule once: fire, resolve, or leave things as they are. Returns
    how many rules ended in each outcome."""
    now = now or timezone.now()
    summary = dict.fromkeys(("rules", "fired", "resolved", "firing", "snoozed", "no_data", "ok", "errors"), 0)
    open_events = {e.rule_id: e for e in AlertEvent.objects.filter(state__in=AlertEvent.OPEN)}
    for rule in AlertRule.objects.filter(enabled=True).order_by("pk"):
        summary["rules"] += 1
        try:
            outcome = _evaluate(rule, open_events.get(rule.pk), now)
        except Exception:  # one rule's trouble (a bad metric row) must not hide the others' alerts
            logger.exception("alert rule %s could not be evaluated", rule.pk)
            outcome = "errors"
        summary[outcome] += 1
    return summary


def _evaluate(rule: AlertRule, event: AlertEvent | None, now: datetime) -> str:
    reading = _reading(rule, now)
    if reading is None:
        return "no_data"
    mean, count = reading
    snoozed = rule.is_snoozed(now)
    if rule.breaches(mean):
        if event is not None:
            return "firing"
        if snoozed:
            return "snoozed"
        return "fired" if _fire(rule, mean, count, now) is not None else "firing"
    if event is not None:
        _resolve(rule, event, mean, count, now, notify=not snoozed)
        return "resolved"
    return "ok"


def _fire(rule: AlertRule, mean: float, count: int, now: datetime) -> AlertEvent | None:
    try:
        with transaction.atomic():
            event = AlertEvent.objects.create(
                rule=rule,
                state=AlertEvent.State.FIRING,
                message=alert_message(rule, mean, count),
                observed=mean,
                breach_started_at=_breach_start(rule, now),
                fired_at=now,
            )
    except IntegrityError:  # another evaluation opened this rule's event first
        return None
    logger.warning("alert %s fired (rule %s, %s): %s", event.pk, rule.pk, rule.severity, event.message)
    notes = _notify(rule, event, kind="fired")
    if rule.retrain_on_fire:
        notes.append(_retrain(rule, event))
    _add_notes(event, notes)
    return event


def _resolve(
    rule: AlertRule, event: AlertEvent, mean: float, count: int, now: datetime, *, notify: bool
) -> None:
    resolution = f"{rule.metric} recovered: {_reading_text(rule, mean, count)}"
    done = AlertEvent.objects.filter(pk=event.pk, state__in=AlertEvent.OPEN).update(
        state=AlertEvent.State.RESOLVED, resolved_at=now, resolution=resolution
    )
    if not done:
        return
    logger.info("alert %s resolved (rule %s): %s", event.pk, rule.pk, resolution)
    event.refresh_from_db()
    if notify:
        _add_notes(event, _notify(rule, event, kind="resolved"))


def _add_notes(event: AlertEvent, notes: list[dict[str, Any]]) -> None:
    if notes:
        event.notifications = [*(event.notifications or []), *notes]
        event.save(update_fields=["notifications"])


# --- notifications ----------------------------------------------------------------------------


def _note(channel: str, ok: bool, detail: str, kind: str) -> dict[str, Any]:
    return {
        "channel": channel,
        "ok": ok,
        "detail": detail[:500],
        "at": timezone.now().isoformat(),
        "kind": kind,
    }


def _notify(rule: AlertRule, event: AlertEvent, *, kind: str) -> list[dict[str, Any]]:
    notes = []
    if rule.notify_emails:
        notes.append(_email(rule, event, kind))
    if rule.notify_webhook:
        notes.append(_webhook(rule, event, kind))
    return notes


def _email(rule: AlertRule, event: AlertEvent, kind: str) -> dict[str, Any]:
    recipients = [str(address) for address in rule.notify_emails]
    state = "firing" if kind == "fired" else "resolved"
    subject = f"[LinkHub {rule.severity}] {rule.name}: {state}"
    lines = [
        event.message if kind == "fired" else event.resolution,
        "",
        f"Rule: {rule.name} ({rule.metric} {BREACH[rule.comparison]} {_num(rule.threshold)} "
        f"over {window_text(rule.window_minutes)}, {rule.severity})",
        f"Breach started: {event.breach_started_at:%Y-%m-%d %H:%M:%S %Z}",
        f"Fired: {event.fired_at:%Y-%m-%d %H:%M:%S %Z}",
    ]
    if event.resolved_at:
        lines.append(f"Resolved: {event.resolved_at:%Y-%m-%d %H:%M:%S %Z}")
    if rule.description:
        lines += ["", rule.description]
    try:
        sent = send_mail(subject, "\n".join(lines), None, recipients, fail_silently=False)
    except Exception as exc:  # any mail failure is recorded, never raised (see the module's doc)
        logger.warning("alert %s: e-mail to %s failed: %s", event.pk, recipients, exc)
        return _note("email", False, f"{type(exc).__name__}: {exc}", kind)
    return _note("email", bool(sent), f"sent to {', '.join(recipients)}", kind)


def webhook_payload(rule: AlertRule, event: AlertEvent, kind: str) -> dict[str, Any]:
    """A Slack-compatible message (Mattermost and Rocket.Chat read it too)."""
    fired = kind == "fired"
    fields = [
        {"title": "Rule", "value": rule.name, "short": True},
        {"title": "Severity", "value": rule.severity, "short": True},
        {"title": "State", "value": event.state, "short": True},
        {"title": "Metric", "value": rule.metric, "short": True},
        {"title": "Observed", "value": _num(event.observed), "short": True},
        {"title": "Expected", "value": f"{EXPECTED[rule.comparison]} {_num(rule.threshold)}", "short": True},
        {"title": "Window", "value": f"last {window_text(rule.window_minutes)}", "short": True},
        {"title": "Breach started", "value": event.breach_started_at.isoformat(), "short": True},
    ]
    return {
        "text": event.message if fired else f"Resolved: {event.resolution}",
        "attachments": [
            {
                "color": COLORS.get(rule.severity, "warning") if fired else RESOLVED_COLOR,
                "title": rule.name,
                "fields": fields,
            }
        ],
    }


def _webhook(rule: AlertRule, event: AlertEvent, kind: str) -> dict[str, Any]:
    try:
        response = httpx.post(
            rule.notify_webhook, json=webhook_payload(rule, event, kind), timeout=WEBHOOK_TIMEOUT
        )
    except Exception as exc:  # unreachable, timed out, a bad URL: recorded, never raised
        logger.warning("alert %s: webhook failed: %s", event.pk, exc)
        return _note("webhook", False, f"{type(exc).__name__}: {exc}", kind)
    ok = response.is_success
    if not ok:
        logger.warning("alert %s: webhook answered HTTP %s", event.pk, response.status_code)
    return _note("webhook", ok, f"HTTP {response.status_code}", kind)


def _retrain(rule: AlertRule, event: AlertEvent) -> dict[str, Any]:
    try:
        run = training_request(trigger=TrainingRun.Trigger.ALERT)
    except Exception as exc:  # the alert stands whether or not training could be queued
        logger.warning("alert %s: retraining could not be requested: %s", event.pk, exc)
        return _note("retrain", False, f"{type(exc).__name__}: {exc}", "fired")
    return _note("retrain", True, f"training run {run.pk} requested", "fired")


# --- people's actions -------------------------------------------------------------------------


def alert_acknowledge(*, event: AlertEvent, actor: User) -> AlertEvent:
    """Someone is on it: model owners and reviewers acknowledge an open alert. The first
    acknowledgement stands; a resolved alert cannot be acknowledged."""
    if not (is_model_owner(actor) or is_reviewer(actor) or actor.is_superuser):
        raise PermissionDenied("Only model owners and reviewers acknowledge alerts.")
    now = timezone.now()
    updated = AlertEvent.objects.filter(pk=event.pk, state=AlertEvent.State.FIRING).update(
        state=AlertEvent.State.ACKNOWLEDGED, acknowledged_at=now, acknowledged_by=actor
    )
    event.refresh_from_db()
    if not updated and event.state == AlertEvent.State.RESOLVED:
        raise AlertStateError(
            f"This alert resolved at {event.resolved_at:%Y-%m-%d %H:%M} UTC; there is nothing to acknowledge."
        )
    if updated:
        logger.info("alert %s acknowledged by user %s", event.pk, actor.pk)
    return event


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def alert_rule_validate(values: Mapping[str, Any], *, rule_pk: int | None = None) -> dict[str, Any]:
    """Check a rule's values together; returns them cleaned, or raises field errors."""
    errors: dict[str, str] = {}
    cleaned = dict(values)
    name = str(values.get("name") or "").strip()
    if not name or len(name) > 120:
        errors["name"] = "Give the rule a name of at most 120 characters."
    elif AlertRule.objects.filter(name=name).exclude(pk=rule_pk or 0).exists():
        errors["name"] = f"Another rule is called {name!r}."
    cleaned["name"] = name
    metric = str(values.get("metric") or "").strip()
    if not METRIC_NAME.match(metric):
        errors["metric"] = (
            "Name a metric: lower-case letters, digits and _, e.g. online_acceptance_rate, "
            "drift_text or quality_snapshot_failure_rate."
        )
    cleaned["metric"] = metric
    if values.get("comparison") not in AlertRule.Comparison.values:
        errors["comparison"] = f"Use one of {', '.join(AlertRule.Comparison.values)}."
    threshold = _number(values.get("threshold"))
    if threshold is None:
        errors["threshold"] = "The threshold must be a number."
    cleaned["threshold"] = threshold
    window = values.get("window_minutes")
    if not isinstance(window, int) or isinstance(window, bool) or not 1 <= window <= MAX_WINDOW_MINUTES:
        errors["window_minutes"] = (
            f"The window must be a whole number of minutes from 1 to {MAX_WINDOW_MINUTES}."
        )
    if values.get("severity") not in AlertRule.Severity.values:
        errors["severity"] = f"Use one of {', '.join(AlertRule.Severity.values)}."
    for flag in ("enabled", "retrain_on_fire"):
        if not isinstance(values.get(flag), bool):
            errors[flag] = "Give true or false."
    until = values.get("snoozed_until")
    if until is not None and (not isinstance(until, datetime) or timezone.is_naive(until)):
        errors["snoozed_until"] = "A date and time with its time zone, or null."
    emails = values.get("notify_emails")
    if not isinstance(emails, list) or len(emails) > MAX_EMAILS:
        errors["notify_emails"] = f"Give a list of at most {MAX_EMAILS} e-mail addresses."
    else:
        cleaned["notify_emails"] = [str(e).strip() for e in emails]
        for address in cleaned["notify_emails"]:
            try:
                validate_email(address)
            except ValidationError:
                errors["notify_emails"] = f"{address!r} is not an e-mail address."
                break
    webhook = str(values.get("notify_webhook") or "").strip()
    if webhook:
        try:
            URLValidator(schemes=["http", "https"])(webhook)
        except ValidationError:
            errors["notify_webhook"] = "Give an http or https URL, or leave it empty."
        if len(webhook) > 500:
            errors["notify_webhook"] = "The webhook URL is longer than 500 characters."
    cleaned["notify_webhook"] = webhook
    description = str(values.get("description") or "")
    if len(description) > 2000:
        errors["description"] = "At most 2,000 characters."
    cleaned["description"] = description
    if errors:
        raise ValidationError(errors)
    return cleaned


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


@transaction.atomic
def alert_rule_save(
    *, actor: User, changes: Mapping[str, Any], rule: AlertRule | None = None, reason: str = ""
) -> AlertRule:
    """Create a rule (``rule=None``) or change one, with its audit row. Model owners (and
    superusers) only. A change that changes nothing writes nothing."""
    if actor is None:  # alert rules are people's decisions
        raise ValidationError("An alert rule change needs a person to make it.")
    check_model_owner(actor)
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ValidationError(f"These are not alert rule settings: {', '.join(unknown)}.")
    now = timezone.now()
    if rule is None:
        missing = [name for name in REQUIRED if changes.get(name) in (None, "")]
        if missing:
            raise ValidationError({name: "This field is required." for name in missing})
        rule = AlertRule()
    else:
        rule = AlertRule.objects.select_for_update().get(pk=rule.pk)
    until = changes.get("snoozed_until")
    if isinstance(until, datetime) and until <= now and until != rule.snoozed_until:
        raise ValidationError({"snoozed_until": "Snooze until a time in the future (or null to wake it up)."})
    cleaned = alert_rule_validate({**{n: getattr(rule, n) for n in EDITABLE}, **changes}, rule_pk=rule.pk)
    new = rule.pk is None
    diff = {
        name: [None if new else _jsonable(getattr(rule, name)), _jsonable(cleaned[name])]
        for name in EDITABLE
        if new or getattr(rule, name) != cleaned[name]
    }
    if not diff:
        return rule
    for name in EDITABLE:
        setattr(rule, name, cleaned[name])
    rule.updated_by, rule.updated_at = actor, now
    if new:
        rule.save()
    else:
        rule.save(update_fields=[*(n for n in EDITABLE if n in diff), "updated_by", "updated_at"])
    AlertRuleChange.objects.create(
        rule=rule,
        rule_name=rule.name,
        actor=actor,
        actor_name=actor.get_username(),
        changes=diff,
        reason=(reason or "").strip(),
        at=now,
    )
    if "enabled" in diff and not rule.enabled:
        AlertEvent.objects.filter(rule=rule, state__in=AlertEvent.OPEN).update(
            state=AlertEvent.State.RESOLVED,
            resolved_at=now,
            resolution=f"The rule was disabled by {actor.get_username()}.",
        )
    logger.info(
        "alert rule %s %s by user %s: %s", rule.pk, "created" if new else "changed", actor.pk, ", ".join(diff)
    )
    return rule


def alert_snooze(*, rule: AlertRule, until: datetime | None, actor: User, reason: str = "") -> AlertRule:
    """Silence a rule until a time (``None`` wakes it up)."""
    return alert_rule_save(actor=actor, rule=rule, changes={"snoozed_until": until}, reason=reason)


# --- how fast alerts are handled --------------------------------------------------------------


def alert_timings(*, since: datetime | None = None) -> dict[str, Any]:
    """Mean time to detect (fired − breach started), to acknowledge (acknowledged − fired) and
    to resolve (resolved − fired) over the events fired since ``since``, in seconds; None
    when no event has the times."""
    events = AlertEvent.objects.all()
    if since is not None:
        events = events.filter(fired_at__gte=since)
    rows = list(events.values_list("breach_started_at", "fired_at", "acknowledged_at", "resolved_at"))
    detect = [(fired - started).total_seconds() for started, fired, _, _ in rows if started]
    acknowledge = [(acked - fired).total_seconds() for _, fired, acked, _ in rows if acked]
    resolve = [(resolved - fired).total_seconds() for _, fired, _, resolved in rows if resolved]

    def mean(values: list[float]) -> float | None:
        return round(sum(values) / len(values), 3) if values else None

    return {
        "mttd_seconds": mean(detect),
        "mtta_seconds": mean(acknowledge),
        "mttr_seconds": mean(resolve),
        "n": len(rows),
        "n_acknowledged": len(acknowledge),
        "n_resolved": len(resolve),
    }
