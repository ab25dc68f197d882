"""The tag model in the admin: the review queue, versions and their stages, the policy, the audit
trail. Nothing here writes rows itself: decisions go through ``decisions.decide``, stage changes
through ``registry``, policy edits through ``policy.policy_update``, each writing its audit row in
its own transaction. Audit rows are read-only here; no one edits or deletes them.

Who sees what beyond Django's model permissions (DESIGN.md, "Decision rights"): reviewers the
review queue, suggestions and decisions (they show other users' links); model owners run the stage
actions and edit the policy; any staff member may look at versions, stage events, the policy and
its history, training runs and metrics, which hold no user's links (as on the web UI's model pages).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import Truncator

from linkhub.accounts.roles import is_model_owner, is_reviewer

from .. import selectors
from ..models import (
    MetricPoint,
    ModelVersion,
    Policy,
    PolicyChange,
    ReviewQueueItem,
    Stage,
    StageEvent,
    Suggestion,
    TagDecision,
    TrainingRun,
)
from ..services import registry
from ..services.decisions import decide
from ..services.policy import EDITABLE, policy_update, policy_validate
from ..training.metric_names import GATE_METRICS

# How many rows one action may act on: each is its own transaction, with row locks.
MAX_PER_ACTION = 500
# How many failures an action reports one by one before it sums up the rest.
MAX_FAILURE_MESSAGES = 10
REASON_TEMPLATE = "admin/mlops/decide_reason.html"

Role = Callable[[AbstractBaseUser | AnonymousUser], bool]


# --- roles --------------------------------------------------------------------------------------


def _is_superuser(user: AbstractBaseUser | AnonymousUser) -> bool:
    return bool(getattr(user, "is_superuser", False))


def _is_staff(user: AbstractBaseUser | AnonymousUser) -> bool:
    return bool(getattr(user, "is_staff", False))


def can_review(user: AbstractBaseUser | AnonymousUser) -> bool:
    return _is_superuser(user) or is_reviewer(user)


def can_own_models(user: AbstractBaseUser | AnonymousUser) -> bool:
    return _is_superuser(user) or is_model_owner(user)


def _actor(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User):  # the admin lets only signed-in staff in; this is for the types
        raise PermissionDenied
    return user


def _refuse(self: Any, request: HttpRequest, obj: Any = None) -> bool:
    return False


def _error_text(exc: ValidationError | PermissionDenied) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or "You may not do this."


# --- asking for a reason ------------------------------------------------------------------------


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        max_length=2000,
        help_text="Recorded with every change, in the audit trail.",
        error_messages={"required": "Give a reason: it is recorded with every change."},
    )


# --- display helpers ----------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _fmt(value: Any) -> str:
    number = _number(value)
    return "—" if number is None else f"{number:.3f}"


def _metric_column(name: str, label: str) -> Callable[[Any, ModelVersion], str]:
    @admin.display(description=label)
    def column(self: Any, obj: ModelVersion) -> str:
        return _fmt((obj.metrics or {}).get(name))

    return column


def _json_column(field: str, label: str) -> Callable[[Any, Model], SafeString]:
    @admin.display(description=label)
    def column(self: Any, obj: Model) -> SafeString:
        value = json.dumps(getattr(obj, field), indent=2, sort_keys=True, default=str)
        return format_html("<pre>{}</pre>", value)

    return column


def top_terms(explanation: Any, n: int = 3) -> str:
    """The terms that weighed most for a suggestion, from its ``[[term, weight], ...]``."""
    pairs = [
        (str(item[0]), float(item[1]))
        for item in (explanation if isinstance(explanation, list) else [])
        if isinstance(item, list | tuple) and len(item) >= 2 and _number(item[1]) is not None
    ]
    pairs.sort(key=lambda pair: -pair[1])
    return ", ".join(term for term, _ in pairs[:n]) or "—"


# --- base classes -------------------------------------------------------------------------------


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that no one adds, edits or deletes in the admin; what changes, changes through actions
    that ask why (``ask_reason``). Besides users with Django's view permission, ``view_roles`` may
    look."""

    view_roles: tuple[Role, ...] = ()
    actions: Any = None  # no bulk delete; subclasses with their own actions name them
    show_full_result_count = False

    def _role_may_view(self, request: HttpRequest) -> bool:
        return any(role(request.user) for role in self.view_roles)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return super().has_module_permission(request) or self._role_may_view(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return super().has_view_permission(request, obj) or self._role_may_view(request)

    has_add_permission = has_change_permission = has_delete_permission = _refuse

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        # Every field, and every column the page shows.
        shown = flatten_fieldsets(self.fieldsets) if self.fieldsets else []
        return list(dict.fromkeys([*(f.name for f in self.opts.fields), *self.readonly_fields, *shown]))

    def ask_reason(
        self,
        request: HttpRequest,
        queryset: QuerySet[Any],
        *,
        action: str,
        title: str,
        intro: str,
        submit: str,
        describe: Callable[[Any], str],
        apply: Callable[[list[Any], str], None],
    ) -> TemplateResponse | None:
        """An action in two steps: first a page that lists the selected rows and asks why, then,
        with a reason given, ``apply(rows, reason)``. Returns the page, or None when done."""
        items = list(queryset[: MAX_PER_ACTION + 1])
        if len(items) > MAX_PER_ACTION:
            self.message_user(request, f"Select at most {MAX_PER_ACTION} rows at a time.", messages.WARNING)
            return None
        if not items:
            self.message_user(request, "None of the selected rows can be acted on now.", messages.WARNING)
            return None
        form = ReasonForm(request.POST if request.POST.get("apply") == "yes" else None)
        if form.is_bound and form.is_valid():
            apply(items, form.cleaned_data["reason"])
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "intro": intro,
            "submit": submit,
            "opts": self.opts,
            "rows": [(item.pk, describe(item)) for item in items],
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "form": form,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, REASON_TEMPLATE, context)

    def report(self, request: HttpRequest, done: str | None, failures: list[str]) -> None:
        if done:
            self.message_user(request, done, messages.SUCCESS)
        for text in failures[:MAX_FAILURE_MESSAGES]:
            self.message_user(request, text, messages.ERROR)
        if len(failures) > MAX_FAILURE_MESSAGES:
            self.message_user(
                request, f"… and {len(failures) - MAX_FAILURE_MESSAGES} more failed.", messages.ERROR
            )


# --- the audit trail ----------------------------------------------------------------------------


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


@admin.register(StageEvent)
class StageEventAdmin(ReadOnlyAdmin):
    view_roles = (_is_staff,)
    list_display = ("at", "version", "from_stage", "to_stage", "actor_name", "automatic", "reason")
    list_filter = ("to_stage", "from_stage", "automatic", "at", "actor_name")
    search_fields = ("actor_name", "reason", "=version__number")
    date_hierarchy = "at"
    list_select_related = ("version",)


@admin.register(PolicyChange)
class PolicyChangeAdmin(ReadOnlyAdmin):
    view_roles = (_is_staff,)
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


# --- suggestions and the review queue -------------------------------------------------------------


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
        "model_version",
        "created_at",
    )
    list_display_links = ("tag_name",)
    list_filter = ("status", "visible", ("model_version", admin.RelatedOnlyFieldListFilter), ScoreRangeFilter)
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
        actor = _actor(request)
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
                failures.append(f"“{item.tag_name}” on {item.link.url}: {_error_text(exc)}")
            else:
                done += 1
        past = "accepted" if action == TagDecision.Action.ACCEPT else "rejected"
        summary = f"{done} suggestion{'s' if done != 1 else ''} {past}." if done else None
        self.report(request, summary, failures)


# --- versions and their stages ------------------------------------------------------------------


class StageEventInline(admin.TabularInline):
    model = StageEvent
    extra = 0
    max_num = 0
    can_delete = False
    fields = ("at", "from_stage", "to_stage", "actor_name", "automatic", "reason")
    readonly_fields = fields
    ordering = ("-at", "-id")

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return _is_staff(request.user)

    has_add_permission = has_change_permission = has_delete_permission = _refuse


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    """Versions are registered by training and change stage only through the actions, which
    ask why and write a stage event."""

    view_roles = (_is_staff,)
    actions = ["promote_to_shadow", "promote_to_canary", "promote_to_production", "roll_back"]
    list_display = (
        "number",
        "design",
        "stage",
        "recall_at_3",
        "precision_at_1",
        "micro_f1",
        "created_at",
        "artifact_size_display",
    )
    list_filter = ("stage", "design")
    search_fields = ("=number", "design", "artifact_sha256", "data_fingerprint", "code_version")
    date_hierarchy = "created_at"
    inlines = [StageEventInline]
    fieldsets = [
        (None, {"fields": ["number", "design", "stage", "stage_changed_at", "created_at", "created_by"]}),
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

    recall_at_3 = _metric_column("recall_at_3", "recall@3")
    precision_at_1 = _metric_column("precision_at_1", "precision@1")
    micro_f1 = _metric_column("micro_f1", "micro F1")
    metrics_pretty = _json_column("metrics", "metrics")
    params_pretty = _json_column("params", "parameters")
    data_summary_pretty = _json_column("data_summary", "data summary")
    per_tag_pretty = _json_column("per_tag", "per-tag quality")

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
                _fmt(candidate.get(name)),
                _fmt(production.get(name)),
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
        actor = _actor(request)
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
                failures.append(f"v{version.number}: {_error_text(exc)}")
                continue
            if to_stage is not None:
                done.append(f"v{version.number} is now in {to_stage}.")
            elif result.pk == version.pk:
                done.append(f"v{version.number} rolled back: it is now {result.stage}.")
            else:
                done.append(f"v{version.number} rolled back: v{result.number} is in {result.stage} again.")
        self.report(request, " ".join(done) or None, failures)


# --- the policy ---------------------------------------------------------------------------------


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
        ("Last change", {"fields": ["updated_at", "updated_by"]}),
    ]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return super().has_module_permission(request) or _is_staff(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return super().has_view_permission(request, obj) or _is_staff(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return can_own_models(request.user) and not Policy.objects.exists()

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return can_own_models(request.user)

    has_delete_permission = _refuse

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
        policy = policy_update(actor=_actor(request), changes=changes, reason=form.cleaned_data["reason"])
        if not changes:
            self.message_user(request, "Nothing changed, so no policy change was recorded.", messages.INFO)
        # The service saved the row; the admin's log entry and redirect need its key.
        obj.pk = policy.pk
        obj._state.adding = False
        obj.updated_at, obj.updated_by = policy.updated_at, policy.updated_by


# --- training runs and metric history -----------------------------------------------------------


@admin.register(TrainingRun)
class TrainingRunAdmin(ReadOnlyAdmin):
    view_roles = (_is_staff,)
    list_display = ("status", "trigger", "progress", "summary", "version_link", "requested_by", "created_at")
    list_filter = ("status", "trigger", "created_at")
    search_fields = ("message", "dataset", "fingerprint")
    list_select_related = ("version", "requested_by")
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
        return format_html('<a href="{}">v{}</a>', url, obj.version.number)


@admin.register(MetricPoint)
class MetricPointAdmin(ReadOnlyAdmin):
    view_roles = (_is_staff,)
    list_display = ("name", "model_version", "value", "count", "window_start", "window_end", "recorded_at")
    list_filter = ("name", ("model_version", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name",)
    list_select_related = ("model_version",)
    date_hierarchy = "recorded_at"
