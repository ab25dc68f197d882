"""The policy: the deployment's thresholds and roll-out rules, edited by model owners.

Every edit writes a ``PolicyChange`` (who, which fields from what to what, why) in the same
transaction as the change itself.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..models import Policy, PolicyChange
from ..training.metric_names import GATE_METRICS
from .registry import check_model_owner

logger = logging.getLogger(__name__)

# The fields people edit; updated_at and updated_by follow from an edit.
EDITABLE: tuple[str, ...] = (
    "auto_apply_threshold",
    "suggest_threshold",
    "max_suggestions",
    "min_examples",
    "global_tags",
    "retrain_after_decisions",
    "primary_metric",
    "gate_margin",
    "gate_tolerance",
    "shadow_min_links",
    "canary_percent",
    "canary_min_decisions",
    "canary_max_drop",
    # Every user's suggestions, and the personal models' rule.
    "personal_threshold",
    "blend_shared_weight",
    "zero_shot_threshold",
    "new_tags_below",
    "new_tags_max",
    "new_tag_threshold",
    "personal_min_links",
    "personal_retrain_after_updates",
    "personal_retrain_days",
    "personal_acceptance_window",
    "personal_acceptance_drop",
    "personal_retrain_on_drift",
    "personal_gate_links",
)
MAX_SUGGESTIONS = 20


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def policy_validate(values: Mapping[str, Any]) -> None:
    """Check a whole set of policy values together; field errors name what is wrong and why."""
    errors: dict[str, str] = {}
    auto = _number(values.get("auto_apply_threshold"))
    suggest = _number(values.get("suggest_threshold"))
    if auto is None or not 0 < auto <= 1:
        errors["auto_apply_threshold"] = "The auto-apply threshold must be above 0 and at most 1."
    if suggest is None or not 0 < suggest <= 1:
        errors["suggest_threshold"] = "The suggest threshold must be above 0 and at most 1."
    elif auto is not None and suggest > auto:
        errors["suggest_threshold"] = (
            f"The suggest threshold ({suggest:g}) must not be above the auto-apply threshold ({auto:g})."
        )
    whole_numbers = {
        "max_suggestions": (1, MAX_SUGGESTIONS, "suggestions per link"),
        "min_examples": (1, None, "examples a tag needs before it is learned"),
        "retrain_after_decisions": (1, None, "new decisions before a retraining"),
        "shadow_min_links": (0, None, "links a shadow version scores before canary"),
        "canary_percent": (1, 100, "percent of users in the canary"),
        "canary_min_decisions": (1, None, "answers before a canary is judged"),
        "new_tags_below": (0, None, "tags under which a user is offered new ones"),
        "new_tags_max": (0, MAX_SUGGESTIONS, "new tags offered per link"),
        "personal_min_links": (1, None, "tagged links before a personal model is trained"),
        "personal_retrain_after_updates": (1, None, "incremental updates before a full retrain"),
        "personal_retrain_days": (1, None, "days before a personal model with new data is retrained"),
        "personal_acceptance_window": (1, None, "decisions before a personal version's acceptance is judged"),
        "personal_gate_links": (1, None, "recent links the per-user gate holds out"),
    }
    for name, (low, high, what) in whole_numbers.items():
        value = values.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < low or (high and value > high):
            span = f"from {low} to {high}" if high else f"{low} or more"
            errors[name] = f"The number of {what} must be a whole number {span}."
    for name, what in (
        ("gate_margin", "gate margin"),
        ("gate_tolerance", "gate tolerance"),
        ("canary_max_drop", "largest acceptable drop of a canary"),
        ("personal_acceptance_drop", "largest acceptable drop of a personal version's acceptance"),
    ):
        value = _number(values.get(name))
        if value is None or not 0 <= value < 1:
            errors[name] = f"The {what} must be at least 0 and below 1."
    for name, what in (
        ("zero_shot_threshold", "zero-shot threshold"),
        ("new_tag_threshold", "new-tag threshold"),
    ):
        value = _number(values.get(name))
        if value is None or not 0 < value <= 1:
            errors[name] = f"The {what} must be above 0 and at most 1."
    weight = _number(values.get("blend_shared_weight"))
    if weight is None or not 0 <= weight <= 1:
        errors["blend_shared_weight"] = "The shared model's weight in the blend must be from 0 to 1."
    if not isinstance(values.get("personal_retrain_on_drift"), bool):
        errors["personal_retrain_on_drift"] = "Say true or false."
    if values.get("primary_metric") not in GATE_METRICS:
        errors["primary_metric"] = f"Use one of: {', '.join(GATE_METRICS)}."
    tags = values.get("global_tags")
    if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
        errors["global_tags"] = 'Give a list of tag names, for example ["news", "howto"].'
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def policy_update(*, actor: User, changes: Mapping[str, Any], reason: str) -> Policy:
    """Change policy fields, with the audit row of what changed. Model owners (and superusers)
    only; a change that changes nothing writes nothing."""
    if actor is None:  # the policy is a person's decision, never the system's
        raise ValidationError("A policy change needs a person to make it.")
    check_model_owner(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Give a reason for the policy change."})
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ValidationError(f"These are not policy settings: {', '.join(unknown)}.")
    policy, _ = Policy.objects.select_for_update().get_or_create(pk=1)
    policy_validate({**{name: getattr(policy, name) for name in EDITABLE}, **changes})
    diff = {
        name: [getattr(policy, name), value]
        for name, value in changes.items()
        if getattr(policy, name) != value
    }
    if not diff:
        return policy
    for name, (_, new) in diff.items():
        setattr(policy, name, new)
    policy.updated_at = timezone.now()
    policy.updated_by = actor
    policy.save(update_fields=[*diff, "updated_at", "updated_by"])
    PolicyChange.objects.create(
        actor=actor,
        actor_name=actor.get_username(),
        changes=diff,
        reason=reason,
        at=policy.updated_at,
    )
    logger.info("policy changed by %s: %s (%s)", actor.pk, ", ".join(diff), reason)
    return policy
