"""Roll-out rules, run by beat: shadow -> canary -> production, or an automatic rollback.

- A shadow version that has scored ``shadow_min_links`` links since it entered shadow goes to
  canary.
- A canary whose suggestions people have answered ``canary_min_decisions`` times since it
  entered canary is compared with production over the same time: acceptance lower than
  production's by more than ``canary_max_drop`` rolls it back; otherwise it goes to production.
- Enough new decisions since the last training queue a new training run.
Every move is a StageEvent with actor "system" and the figures in its reason.
"""

from __future__ import annotations

import logging

from django.utils import timezone

from ..models import Stage, Suggestion, TrainingRun
from . import registry
from .metrics import acceptance
from .training import retrain_due, training_request, training_runs_sweep

logger = logging.getLogger(__name__)


def rollout_check() -> dict[str, str]:
    policy = registry.policy_get()
    done: dict[str, str] = {}
    shadow = registry.in_stage(Stage.SHADOW)
    if shadow is not None:
        scored = (
            Suggestion.objects.filter(
                model_version=shadow, visible=False, created_at__gte=shadow.stage_changed_at
            )
            .values("link_id")
            .distinct()
            .count()
        )
        if scored >= policy.shadow_min_links and registry.in_stage(Stage.CANARY) is None:
            registry.stage_change(
                version=shadow,
                to_stage=Stage.CANARY,
                actor=None,
                reason=f"scored {scored} links in shadow (rule: at least {policy.shadow_min_links})",
                automatic=True,
            )
            done["shadow"] = f"v{shadow.number} to canary"
    canary = registry.in_stage(Stage.CANARY)
    production = registry.in_stage(Stage.PRODUCTION)
    if canary is not None:
        now = timezone.now()
        rate, answered = acceptance(canary, canary.stage_changed_at, now)
        if answered >= policy.canary_min_decisions and rate is not None:
            base, base_n = acceptance(production, canary.stage_changed_at, now) if production else (None, 0)
            figures = (
                f"acceptance {rate:.3f} over {answered} answers vs production "
                + (f"{base:.3f} over {base_n}" if base is not None else "without answers")
                + f" (rule: at most {policy.canary_max_drop:.3f} lower,"
                + f" after {policy.canary_min_decisions} answers)"
            )
            if base is not None and rate < base - policy.canary_max_drop:
                registry.rollback(version=canary, actor=None, reason=figures, automatic=True)
                done["canary"] = f"v{canary.number} rolled back"
            else:
                registry.stage_change(
                    version=canary, to_stage=Stage.PRODUCTION, actor=None, reason=figures, automatic=True
                )
                done["canary"] = f"v{canary.number} to production"
    if training_runs_sweep():
        done["sweep"] = "stale training runs ended"
    if retrain_due():
        run = training_request(trigger=TrainingRun.Trigger.DECISIONS)
        done["training"] = f"run {run.pk} queued"
    if done:
        logger.info("roll-out check: %s", done)
    return done
