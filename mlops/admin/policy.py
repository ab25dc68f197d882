"""The policy in the admin: one row that model owners edit with a reason, each edit a
``PolicyChange`` written by ``policy.policy_update``; the changes themselves are read-only. Any
staff member may look at both."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from ..models import Policy, PolicyChange
from ..services.policy import EDITABLE, policy_update, policy_validate
from ..training.metric_names import GATE_METRICS
from .base import ReadOnlyAdmin, ReasonForm, actor_of, can_own_models, is_staff, refuse


class PolicyForm(forms.ModelForm):
    primary_metric = forms.ChoiceField(choices=[(name, name) for name in GATE_METRICS])
    reason = ReasonForm.base_fields["reason"]  # not a model field: it goes into the PolicyChange

    class Meta:
        model = Policy
        fields = list(EDITABLE)

    def clean_global_tags(self) -> Any:
        value = self.cleaned_data.get("global_tags")
        return [] if value is None else value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        values = {name: cleaned.get(name, getattr(self.instance, name)) for name in EDITABLE}
        try:
            policy_validate(values)
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                if name not in self.errors:  # a field that failed its own check is reported once
                    self.add_error(name if name in self.fields else None, errors)
        return cleaned


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    """One row. Model owners edit it with a reason; every edit is a PolicyChange."""

    form = PolicyForm
    actions: Any = None
    list_display = ("__str__", "canary_percent", "primary_metric", "updated_at", "updated_by")
    list_select_related = ("updated_by",)
    readonly_fields = ("updated_at", "updated_by")
    fieldsets = [
        (
            "Suggestions",
            {
                "fields": [
                    "auto_apply_threshold",
                    "suggest_threshold",
                    "max_suggestions",
                    "min_examples",
                    "global_tags",
                ]
            },
        ),
        (
            "Training and the promotion gate",
            {"fields": ["retrain_after_decisions", "primary_metric", "gate_margin", "gate_tolerance"]},
        ),
        (
            "Roll-out",
            {"fields": ["shadow_min_links", "canary_percent", "canary_min_decisions", "canary_max_drop"]},
        ),
        (
            "Every user: the blend, personal and zero-shot thresholds, new tags",
            {
                "fields": [
                    "blend_shared_weight",
                    "personal_threshold",
                    "zero_shot_threshold",
                    "new_tags_below",
                    "new_tags_max",
                    "new_tag_threshold",
                ]
            },
        ),
        (
            "Personal models: when they start, when they are retrained, their gate and rollback",
            {
                "fields": [
                    "personal_min_links",
                    "personal_retrain_after_updates",
                    "personal_retrain_days",
                    "personal_retrain_on_drift",
                    "personal_acceptance_window",
                    "personal_acceptance_drop",
                    "personal_gate_links",
                ]
            },
        ),
        ("Last change", {"fields": ["updated_at", "updated_by"]}),
    ]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return super().has_module_permission(request) or is_staff(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return super().has_view_permission(request, obj) or is_staff(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return can_own_models(request.user) and not Policy.objects.exists()

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return can_own_models(request.user)

    has_delete_permission = refuse

    def get_fieldsets(self, request: HttpRequest, obj: Model | None = None) -> Any:
        fieldsets = list(self.fieldsets or [])
        may_edit = (
            self.has_add_permission(request) if obj is None else self.has_change_permission(request, obj)
        )
        if may_edit:
            fieldsets.append(("Why", {"fields": ["reason"]}))
        return fieldsets

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in EDITABLE}
        policy = policy_update(actor=actor_of(request), changes=changes, reason=form.cleaned_data["reason"])
        if not changes:
            self.message_user(request, "Nothing changed, so no policy change was recorded.", messages.INFO)
        # The service saved the row; the admin's log entry and redirect need its key.
        obj.pk = policy.pk
        obj._state.adding = False
        obj.updated_at, obj.updated_by = policy.updated_at, policy.updated_by


@admin.register(PolicyChange)
class PolicyChangeAdmin(ReadOnlyAdmin):
    view_roles = (is_staff,)
    list_display = ("at", "actor_name", "changed_fields", "reason")
    list_filter = ("at", "actor_name")
    search_fields = ("actor_name", "reason")
    date_hierarchy = "at"
    readonly_fields = ("changes_table",)

    @admin.display(description="changed")
    def changed_fields(self, obj: PolicyChange) -> str:
        return ", ".join(obj.changes or {})

    @admin.display(description="changes")
    def changes_table(self, obj: PolicyChange) -> SafeString:
        rows = []
        for name, pair in (obj.changes or {}).items():
            old, new = pair if isinstance(pair, list) and len(pair) == 2 else ("?", pair)
            rows.append((name, json.dumps(old, default=str), json.dumps(new, default=str)))
        return format_html(
            "<table><thead><tr><th>setting</th><th>from</th><th>to</th></tr></thead><tbody>{}</tbody></table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
        )
