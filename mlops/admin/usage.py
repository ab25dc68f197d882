"""On the admin page of a user: the model versions trained with their data (shared and personal),
the first shared one without it after they went down a level, and their personal model now.
Answered through ``linkhub.accounts.signals.user_admin_panels`` (connected in apps.py)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from ..models import ModelVersion, PersonalModelState
from ..selectors import data_usage


def _link(version: ModelVersion) -> SafeString:
    url = reverse("admin:mlops_modelversion_change", args=[version.pk])
    return format_html('<a href="{}">{}</a> ({})', url, version.label, version.stage)


def _list(versions: list[ModelVersion]) -> SafeString | str:
    return format_html_join(", ", "{}", ((_link(v),) for v in versions)) if versions else "none"


def data_usage_panel(*, user: Any, **kwargs: Any) -> tuple[str, SafeString]:
    usage = data_usage(user=user)
    state = PersonalModelState.objects.filter(user=user).select_related("version").first()
    serving = (
        format_html("{} with {} incremental updates since", _link(state.version), state.updates)
        if state
        else "none"
    )
    first_without = _link(usage.first_without) if usage.first_without else "—"
    body = format_html(
        "<ul><li>Shared versions trained with their data: {}</li>"
        "<li>First shared version without it since: {}</li>"
        "<li>Their personal versions (their data only): {}</li>"
        "<li>Personal model serving now: {}</li>"
        "<li>Same as <code>manage.py data_usage --user {}</code></li></ul>",
        _list(usage.with_data),
        first_without,
        _list(usage.personal),
        serving,
        user.get_username(),
    )
    return "Tag models trained with their data", body
