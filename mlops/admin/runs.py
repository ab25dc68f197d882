"""Training runs and the metric history in the admin: read-only, for any staff member (they hold
no user's links). Runs are requested from the model pages, the API or the command line."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator

from ..models import MetricPoint, TrainingRun
from .base import ReadOnlyAdmin, is_staff


@admin.register(TrainingRun)
class TrainingRunAdmin(ReadOnlyAdmin):
    view_roles = (is_staff,)
    list_display = (
        "status",
        "kind",
        "owner",
        "trigger",
        "reason_short",
        "progress",
        "summary",
        "version_link",
        "requested_by",
        "created_at",
    )
    list_filter = ("kind", "status", "trigger", "created_at")
    search_fields = ("message", "reason", "dataset", "fingerprint", "owner__username")
    list_select_related = ("version", "requested_by", "owner")

    @admin.display(description="why it ran")
    def reason_short(self, obj: TrainingRun) -> str:
        return Truncator(obj.reason).chars(80) or "—"

    date_hierarchy = "created_at"

    @admin.display(description="progress")
    def progress(self, obj: TrainingRun) -> str:
        if not obj.total:
            return "—"
        return f"{obj.done}/{obj.total} ({100 * obj.done // obj.total}%)"

    @admin.display(description="message")
    def summary(self, obj: TrainingRun) -> str:
        return Truncator(obj.message).chars(100)

    @admin.display(description="version", ordering="version__number")
    def version_link(self, obj: TrainingRun) -> SafeString | str:
        if obj.version is None:
            return "—"
        url = reverse("admin:mlops_modelversion_change", args=[obj.version.pk])
        return format_html('<a href="{}">{}</a>', url, obj.version.label)


@admin.register(MetricPoint)
class MetricPointAdmin(ReadOnlyAdmin):
    view_roles = (is_staff,)
    list_display = ("name", "model_version", "value", "count", "window_start", "window_end", "recorded_at")
    list_filter = ("name", ("model_version", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name",)
    list_select_related = ("model_version",)
    date_hierarchy = "recorded_at"
