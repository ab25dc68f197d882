"""The tag model in the admin: ``lifecycle`` (the review queue, versions and their stages, the
policy, the audit trail, training runs and metrics) and ``watch`` (drift checks, alert rules and
alert events). Importing both registers their model admins."""

from . import watch
from .lifecycle import ReviewQueueItem, can_own_models, can_review, top_terms

__all__ = ["ReviewQueueItem", "can_own_models", "can_review", "top_terms", "watch"]
