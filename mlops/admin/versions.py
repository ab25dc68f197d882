"""Model versions and their stage events in the admin. Any staff member may look (they hold no
user's links); model owners move versions through the stage actions, which ask why and go
through ``registry.stage_change`` and ``registry.rollback``, each writing a stage event."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from ..models import ModelVersion, Stage, StageEvent
from ..services import registry
from ..training.metric_names import HEADLINE_METRICS
from .base import (
    ReadOnlyAdmin,
    actor_of,
    can_own_models,
    error_text,
    fmt,
    is_staff,
    json_column,
    metric_column,
    refuse,
)


class StageEventInline(admin.TabularInline):
    model = StageEvent
    extra = 0
    max_num = 0
    can_delete = False
    fields = ("at", "from_stage", "to_stage", "actor_name", "automatic", "reason")
    readonly_fields = fields
    ordering = ("-at", "-id")

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return is_staff(request.user)

    has_add_permission = has_change_permission = has_delete_permission = refuse


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    """Versions are registered by training and change stage only through the actions, which
    ask why and write a stage event."""

    view_roles = (is_staff,)
    actions = ["promote_to_shadow", "promote_to_canary", "promote_to_production", "roll_back"]
    list_display = (
        "number",
        "kind",
        "owner",
        "design",
        "stage",
        *(metric_column(name) for name in HEADLINE_METRICS),
        "created_at",
        "artifact_size_display",
    )
    list_filter = ("kind", "stage", "design")
    list_select_related = ("owner",)
    search_fields = (
        "=number",
        "design",
        "artifact_sha256",
        "data_fingerprint",
        "code_version",
        "owner__username",
    )
    date_hierarchy = "created_at"
    inlines = [StageEventInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "number",
                    "kind",
                    "owner",
                    "design",
                    "stage",
                    "stage_changed_at",
                    "created_at",
                    "created_by",
                ]
            },
        ),
        ("Holdout metrics and the promotion gate", {"fields": ["metrics_pretty", "gate_verdict"]}),
        (
            "Lineage",
            {
                "fields": [
                    ("parent", "train_seconds"),
                    ("artifact_sha256", "artifact_size_display"),
                    ("artifact_path", "format_version"),
                    ("sklearn_version", "python_version", "code_version"),
                    "params_pretty",
                    ("data_fingerprint", "labels_count"),
                    "holdout_fingerprint",
                    "data_summary_pretty",
                ]
            },
        ),
        ("Per tag", {"classes": ["collapse"], "fields": ["per_tag_pretty", "labels_pretty"]}),
    ]

    def has_model_owner_permission(self, request: HttpRequest) -> bool:
        return can_own_models(request.user)

    metrics_pretty = json_column("metrics", "metrics")
    params_pretty = json_column("params", "parameters")
    data_summary_pretty = json_column("data_summary", "data summary")
    per_tag_pretty = json_column("per_tag", "per-tag quality")

    @admin.display(description="artifact size", ordering="artifact_size")
    def artifact_size_display(self, obj: ModelVersion) -> str:
        return filesizeformat(obj.artifact_size)

    @admin.display(description="labels")
    def labels_count(self, obj: ModelVersion) -> int:
        return len(obj.labels or [])

    @admin.display(description="tags it predicts")
    def labels_pretty(self, obj: ModelVersion) -> str:
        return ", ".join(str(label) for label in obj.labels or []) or "—"

    @admin.display(description="promotion gate")
    def gate_verdict(self, obj: ModelVersion) -> SafeString | str:
        gate = obj.gate or {}
        if not gate:
            return "not checked"
        candidate = gate.get("candidate") or {}
        production = gate.get("production") or {}
        primary = gate.get("primary_metric")
        rows = [
            (
                name,
                " (primary)" if name == primary else "",
                fmt(candidate.get(name)),
                fmt(production.get(name)),
            )
            for name in dict.fromkeys([*candidate, *production])
        ]
        return format_html(
            "<p><strong>{}</strong>: {}</p><table><thead><tr><th>metric</th><th>this version</th>"
            "<th>production</th></tr></thead><tbody>{}</tbody></table>",
            "passed" if gate.get("passed") else "failed",
            gate.get("reason", ""),
            format_html_join("", "<tr><td>{}{}</td><td>{}</td><td>{}</td></tr>", rows),
        )

    @admin.action(description="Promote to shadow", permissions=["model_owner"])
    def promote_to_shadow(self, request: HttpRequest, queryset: QuerySet[Any]) -> TemplateResponse | None:
        return self._promote(request, queryset, to_stage=Stage.SHADOW)

    @admin.action(description="Promote to canary", permissions=["model_owner"])
    def promote_to_canary(self, request: HttpRequest, queryset: QuerySet[Any]) -> TemplateResponse | None:
        return self._promote(request, queryset, to_stage=Stage.CANARY)

    @admin.action(description="Promote to production", permissions=["model_owner"])
    def promote_to_production(self, request: HttpRequest, queryset: QuerySet[Any]) -> TemplateResponse | None:
        return self._promote(request, queryset, to_stage=Stage.PRODUCTION)

    @admin.action(description="Roll back", permissions=["model_owner"])
    def roll_back(self, request: HttpRequest, queryset: QuerySet[Any]) -> TemplateResponse | None:
        return self.ask_reason(
            request,
            queryset,
            action="roll_back",
            title="Roll back versions",
            intro=(
                "A shadow or canary version retires. A production version retires and the version "
                "that was in production before it comes back."
            ),
            submit="Roll back",
            describe=str,
            apply=lambda items, reason: self._change_stages(request, items, reason, to_stage=None),
        )

    def _promote(
        self, request: HttpRequest, queryset: QuerySet[Any], *, to_stage: str
    ) -> TemplateResponse | None:
        if queryset.count() != 1:  # one version holds a stage at a time
            self.message_user(
                request, f"Select exactly one version to promote to {to_stage}.", messages.WARNING
            )
            return None
        replaced = "retires" if to_stage == Stage.PRODUCTION else "goes back to candidate"
        return self.ask_reason(
            request,
            queryset,
            action=f"promote_to_{to_stage}",
            title=f"Promote to {to_stage}",
            intro=f"The version now in {to_stage}, if any, {replaced}.",
            submit=f"Promote to {to_stage}",
            describe=str,
            apply=lambda items, reason: self._change_stages(request, items, reason, to_stage=to_stage),
        )

    def _change_stages(
        self, request: HttpRequest, versions: list[Any], reason: str, *, to_stage: str | None
    ) -> None:
        actor = actor_of(request)
        done: list[str] = []
        failures: list[str] = []
        for version in versions:
            try:
                if to_stage is None:
                    result = registry.rollback(version=version, actor=actor, reason=reason)
                else:
                    result = registry.stage_change(
                        version=version, to_stage=to_stage, actor=actor, reason=reason
                    )
            except (ValidationError, PermissionDenied) as exc:
                failures.append(f"v{version.number}: {error_text(exc)}")
                continue
            if to_stage is not None:
                done.append(f"v{version.number} is now in {to_stage}.")
            elif result.pk == version.pk:
                done.append(f"v{version.number} rolled back: it is now {result.stage}.")
            else:
                done.append(f"v{version.number} rolled back: v{result.number} is in {result.stage} again.")
        self.report(request, " ".join(done) or None, failures)


@admin.register(StageEvent)
class StageEventAdmin(ReadOnlyAdmin):
    view_roles = (is_staff,)
    list_display = ("at", "version", "from_stage", "to_stage", "actor_name", "automatic", "reason")
    list_filter = ("to_stage", "from_stage", "automatic", "at", "actor_name")
    search_fields = ("actor_name", "reason", "=version__number")
    date_hierarchy = "at"
    list_select_related = ("version",)
