"""The tag model in the admin, one module a sub-domain; importing each registers its model admins.

- ``review``: suggestions and the review queue (reviewers)
- ``decisions``: the audit trail of tag decisions (reviewers)
- ``versions``: model versions, their stage actions and stage events
- ``policy``: the policy and its history of changes
- ``runs``: training runs and the metric history
- ``watch``: drift checks, alert rules and alert events
- ``personal``: the personal models serving now; ``usage``: the panel on a user's admin page
- ``base``: what they share (roles, the read-only base whose actions ask for a reason, columns)
"""

from ..models import ReviewQueueItem
from . import decisions, personal, policy, review, runs, usage, versions, watch
from .base import can_own_models, can_review, top_terms

__all__ = [
    "ReviewQueueItem",
    "can_own_models",
    "can_review",
    "decisions",
    "personal",
    "policy",
    "review",
    "runs",
    "top_terms",
    "usage",
    "versions",
    "watch",
]
