"""Suggestions and the review queue in the admin, for reviewers only (they show other users'
links): every suggestion with its score and status, and the queue of open suggestions, least
sure first, that reviewers accept or reject in bulk with a reason, each through
``decisions.decide`` (which writes the audit row)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator

from linkhub.accounts.roles import is_reviewer
from linkhub.links.models import TagDecision

from .. import selectors
from ..models import ReviewQueueItem, Suggestion
from ..services.decisions import decide
from .base import ReadOnlyAdmin, actor_of, can_review, error_text, top_terms


class ScoreRangeFilter(admin.SimpleListFilter):
    title = "score"
    parameter_name = "score"
    RANGES: dict[str, tuple[str, float | None, float | None]] = {
        "lt50": ("below 0.5", None, 0.5),
        "50-70": ("0.5 to 0.7", 0.5, 0.7),
        "70-90": ("0.7 to 0.9", 0.7, 0.9),
        "gte90": ("0.9 and above", 0.9, None),
    }

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(key, label) for key, (label, _, _) in self.RANGES.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        bucket = self.RANGES.get(self.value() or "")
        if bucket is None:
            return queryset
        _, low, high = bucket
        if low is not None:
            queryset = queryset.filter(score__gte=low)
        if high is not None:
            queryset = queryset.filter(score__lt=high)
        return queryset


class SuggestionColumns:
    """Columns the list of suggestions and the review queue share."""

    @admin.display(description="link", ordering="link__title")
    def link_display(self, obj: Suggestion) -> SafeString:
        link = obj.link
        return format_html(
            '<a href="{}" rel="noopener noreferrer" target="_blank">{}</a><br><small>{} · {}</small>',
            link.url,
            Truncator(link.display_title).chars(80),
            Truncator(link.url).chars(60),
            link.owner.get_username(),
        )

    @admin.display(description="score", ordering="score")
    def score_display(self, obj: Suggestion) -> str:
        return f"{obj.score:.3f}"

    @admin.display(description="why (top terms)")
    def terms(self, obj: Suggestion) -> str:
        return top_terms(obj.explanation)


@admin.register(Suggestion)
class SuggestionAdmin(SuggestionColumns, ReadOnlyAdmin):
    view_roles = (is_reviewer,)
    list_display = (
        "tag_name",
        "link_display",
        "score_display",
        "status",
        "visible",
        "source",
        "new_tag",
        "model_version",
        "created_at",
    )
    list_display_links = ("tag_name",)
    list_filter = (
        "status",
        "visible",
        "source",
        "new_tag",
        ("model_version", admin.RelatedOnlyFieldListFilter),
        ScoreRangeFilter,
    )
    search_fields = ("tag_name", "link__url", "link__title", "link__owner__username")
    list_select_related = ("link__owner", "model_version")
    date_hierarchy = "created_at"


@admin.register(ReviewQueueItem)
class ReviewQueueAdmin(SuggestionColumns, ReadOnlyAdmin):
    """Open suggestions on anyone's links, where the model is least sure first, for reviewers to
    accept or reject in bulk, with a reason."""

    actions = ["accept_with_reason", "reject_with_reason"]
    list_display = (
        "link_display",
        "tag_name",
        "score_display",
        "status",
        "model_version",
        "distance_display",
        "terms",
        "created_at",
    )
    list_display_links = ("tag_name",)
    list_filter = (
        "tag_name",
        ("link__owner", admin.RelatedOnlyFieldListFilter),
        ("model_version", admin.RelatedOnlyFieldListFilter),
        ScoreRangeFilter,
        "status",
    )
    search_fields = ("tag_name", "link__url", "link__title", "link__owner__username")
    list_per_page = 50

    # Reviewers (and superusers) only, whatever Django permissions say: deciding on other
    # people's links is the reviewers' right.
    def has_module_permission(self, request: HttpRequest) -> bool:
        return can_review(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return can_review(request.user)

    def has_review_permission(self, request: HttpRequest) -> bool:
        return can_review(request.user)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # Not super(): it would order by "distance" before the selector annotates it.
        return selectors.review_queue(
            user=request.user, queryset=self.model._default_manager.get_queryset()
        ).select_related("link__owner", "model_version")

    def get_ordering(self, request: HttpRequest) -> list[str]:
        return ["distance", "created_at", "id"]

    @admin.display(description="distance to a threshold", ordering="distance")
    def distance_display(self, obj: Any) -> str:
        return f"{obj.distance:.3f}"

    @admin.action(description="Accept with a reason", permissions=["review"])
    def accept_with_reason(self, request: HttpRequest, queryset: QuerySet[Any]) -> TemplateResponse | None:
        return self._decide(request, queryset, action=TagDecision.Action.ACCEPT)

    @admin.action(description="Reject with a reason", permissions=["review"])
    def reject_with_reason(self, request: HttpRequest, queryset: QuerySet[Any]) -> TemplateResponse | None:
        return self._decide(request, queryset, action=TagDecision.Action.REJECT)

    def _decide(
        self, request: HttpRequest, queryset: QuerySet[Any], *, action: str
    ) -> TemplateResponse | None:
        verb = "Accept" if action == TagDecision.Action.ACCEPT else "Reject"
        return self.ask_reason(
            request,
            queryset,
            action=f"{verb.lower()}_with_reason",
            title=f"{verb} suggestions",
            intro=(
                f"{verb} these suggestions? Each one is decided on its own, and recorded with you, "
                "your reason and the model version that made it."
            ),
            submit=verb,
            describe=lambda s: (
                f"“{s.tag_name}” ({s.score:.2f}, {s.get_status_display()}) on "
                f"{Truncator(s.link.display_title).chars(80)} — {s.link.owner.get_username()}"
            ),
            apply=lambda items, reason: self._apply_decisions(request, items, action, reason),
        )

    def _apply_decisions(self, request: HttpRequest, items: list[Any], action: str, reason: str) -> None:
        actor = actor_of(request)
        done = 0
        failures: list[str] = []
        answered: set[tuple[int, str]] = set()
        for item in items:
            # Open suggestions of the same tag from older versions are answered by the newest.
            if (item.link_id, item.tag_key) in answered:
                continue
            answered.add((item.link_id, item.tag_key))
            try:
                decide(
                    link=item.link,
                    tag=item.tag_name,
                    action=action,
                    actor=actor,
                    reason=reason,
                    source=TagDecision.Source.ADMIN,
                )
            except (ValidationError, PermissionDenied) as exc:
                failures.append(f"“{item.tag_name}” on {item.link.url}: {error_text(exc)}")
            else:
                done += 1
        past = "accepted" if action == TagDecision.Action.ACCEPT else "rejected"
        summary = f"{done} suggestion{'s' if done != 1 else ''} {past}." if done else None
        self.report(request, summary, failures)
