"""Tag decisions in the admin: the audit trail of every accept, reject, add and remove, for
reviewers (the rows show other users' links). Read-only: decisions are made in the review queue
(``review``) or on the links themselves, through ``decisions.decide``."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest
from django.utils.text import Truncator

from linkhub.accounts.roles import is_reviewer
from linkhub.links.models import TagDecision

from ..models import ModelVersion
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
        "version",
        "reason",
    )
    list_filter = ("action", "source", "at", "actor_name")
    search_fields = ("tag_name", "link_url", "actor_name")
    date_hierarchy = "at"
    # Not link_owner or actor: those users may be gone, and a join would hide their rows.
    list_select_related = ()

    def get_queryset(self, request: HttpRequest):
        # The row keeps the version's id as a plain number (the audit belongs to the links app).
        number = ModelVersion.objects.filter(pk=OuterRef("model_version_id")).values("number")[:1]
        return super().get_queryset(request).annotate(version_number=Subquery(number))

    @admin.display(description="model version", ordering="version_number")
    def version(self, obj: TagDecision) -> str:
        number = getattr(obj, "version_number", None)
        return f"v{number}" if number is not None else "-"

    @admin.display(description="link", ordering="link_url")
    def link_short(self, obj: TagDecision) -> str:
        return Truncator(obj.link_url).chars(80)
