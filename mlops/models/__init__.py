"""The tag model's life cycle, one module a sub-domain: versions and their stages, suggestions, the
policy, training runs, metric history, drift checks and alerts.

Audit rows (``StageEvent``, ``PolicyChange``, ``AlertRuleChange``) are append-only
(``linkhub.audit.AppendOnly``). Tag decisions are audited by the links app (``links.TagDecision``),
where every tag change is written; this app refers to them and answers its suggestions from them.
"""

from .alerts import AlertEvent, AlertRule, AlertRuleChange
from .drift import DriftResult, DriftRun
from .history import MetricPoint
from .personal import LinkEmbedding, PersonalModelState
from .policy import Policy, PolicyChange
from .suggestions import ReviewQueueItem, Suggestion
from .training import TrainingRun
from .versions import Kind, ModelVersion, Stage, StageEvent

__all__ = [
    "AlertEvent",
    "AlertRule",
    "AlertRuleChange",
    "DriftResult",
    "DriftRun",
    "Kind",
    "LinkEmbedding",
    "MetricPoint",
    "ModelVersion",
    "PersonalModelState",
    "Policy",
    "PolicyChange",
    "ReviewQueueItem",
    "Stage",
    "StageEvent",
    "Suggestion",
    "TrainingRun",
]
