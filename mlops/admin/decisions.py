"""Tag decisions in the admin: the audit trail of every accept, reject, add and remove, for
reviewers (the rows show other users' links). Read-only: decisions are made in the review queue
(``review``) or on the links themselves, through ``decisions.decide``."""

from __future__ import annotations

from django.contrib import admin
from django.utils.text import Truncator

from linkhub.accounts.roles import is_reviewer

from ..models import TagDecision
from .base import ReadOnlyAdmin


@admin.register(TagDecision)
class TagDecisionAdmin(ReadOnlyAdmin):
    view_roles = (is_reviewer,)
    list_display = (
        "at",
        "action",
        "tag_name",
        "link_short",
        "actor_name",
        "source",
        "model_version",
        "reason",
    )
    list_filter = ("action", "source", "at", "actor_name")
    search_fields = ("tag_name", "link_url", "actor_name")
    date_hierarchy = "at"
    # Not link_owner or actor: those users may be gone, and a join would hide their rows.
    list_select_related = ("model_version",)

    @admin.display(description="link", ordering="link_url")
    def link_short(self, obj: TagDecision) -> str:
        return Truncator(obj.link_url).chars(80)
