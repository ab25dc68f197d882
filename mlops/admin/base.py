"""What the tag model's admin pages share: who may do what, the read-only base class whose
actions ask for a reason, and the columns that format numbers, metrics and JSON.

Nothing here writes rows: actions hand each row to a service, which writes its audit row in its
own transaction. Audit rows are read-only; no one edits or deletes them, not even here.
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
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from linkhub.accounts.roles import is_model_owner, is_reviewer

from ..models import ModelVersion
from ..training.metric_names import metric_label

# How many rows one action may act on: each is its own transaction, with row locks.
MAX_PER_ACTION = 500
# How many failures an action reports one by one before it sums up the rest.
MAX_FAILURE_MESSAGES = 10
REASON_TEMPLATE = "admin/mlops/decide_reason.html"

Role = Callable[[AbstractBaseUser | AnonymousUser], bool]


# --- roles --------------------------------------------------------------------------------------


def is_superuser(user: AbstractBaseUser | AnonymousUser) -> bool:
    return bool(getattr(user, "is_superuser", False))


def is_staff(user: AbstractBaseUser | AnonymousUser) -> bool:
    return bool(getattr(user, "is_staff", False))


def can_review(user: AbstractBaseUser | AnonymousUser) -> bool:
    return is_superuser(user) or is_reviewer(user)


def can_own_models(user: AbstractBaseUser | AnonymousUser) -> bool:
    return is_superuser(user) or is_model_owner(user)


def actor_of(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User):  # the admin lets only signed-in staff in; this is for the types
        raise PermissionDenied
    return user


def refuse(self: Any, request: HttpRequest, obj: Any = None) -> bool:
    return False


def error_text(exc: ValidationError | PermissionDenied) -> str:
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


def as_number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def fmt(value: Any) -> str:
    number = as_number(value)
    return "—" if number is None else f"{number:.3f}"


def metric_column(name: str) -> Callable[[ModelVersion], str]:
    """A list column with one holdout metric of each version."""

    @admin.display(description=metric_label(name))
    def column(obj: ModelVersion) -> str:
        return fmt((obj.metrics or {}).get(name))

    column.__name__ = name  # the cells' CSS class, field-<name>
    return column


def json_column(field: str, label: str) -> Callable[[Any, Model], SafeString]:
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
        if isinstance(item, list | tuple) and len(item) >= 2 and as_number(item[1]) is not None
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

    has_add_permission = has_change_permission = has_delete_permission = refuse

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
