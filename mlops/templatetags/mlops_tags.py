"""The tag model on the link pages: tag chips with the model's suggestions, and the bits of the
model pages that templates need (the header link, number formats, Markdown table cells).

A page of links costs one query for all of its suggestions (``open_suggestions``); the chips of
one link are rendered from what is already loaded (``tag_chips``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from django import template
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User

from linkhub.links.models import Link, TagOrigin, tag_key

from .. import selectors
from ..models import Suggestion
from ..training.metric_names import HEADLINE_METRICS, metric_label

register = template.Library()

DECIDE_FORM_ID = "suggestion-decide-form"


def chips_context(link: Link, suggestions: Sequence[Suggestion], *, detail: bool = False) -> dict[str, Any]:
    """What ``mlops/chips.html`` shows for one link: its tags (the model's marked, with confirm
    and remove buttons) and the suggestions still proposed, best first."""
    auto_applied = {s.tag_key: s for s in suggestions if s.status == Suggestion.Status.AUTO_APPLIED}
    tags = []
    on_link: set[str] = set()
    for item in getattr(link, "tag_list", []):
        key = tag_key(item.name)
        on_link.add(key)
        is_model = item.origin == TagOrigin.MODEL
        tags.append(
            {
                "name": item.name,
                "origin": item.origin,
                "origin_label": TagOrigin(item.origin).label,
                "model": is_model,
                "suggestion": auto_applied.get(key) if is_model else None,
            }
        )
    proposed = [s for s in suggestions if s.status == Suggestion.Status.PROPOSED and s.tag_key not in on_link]
    return {
        "link": link,
        "tags": tags,
        "proposed": proposed,
        "explained": [s for s in [*proposed, *auto_applied.values()] if s.explanation],
        "detail": detail,
        "form_id": DECIDE_FORM_ID,
    }


def _links(links: Link | Iterable[Link]) -> list[Link]:
    return [links] if isinstance(links, Link) else list(links)


@register.simple_tag
def open_suggestions(links: Link | Iterable[Link]) -> dict[int, list[Suggestion]]:
    """{link id: its open, visible suggestions} for a page of links (or one link), in one query."""
    return selectors.suggestions_open(link_ids=[link.pk for link in _links(links)])


@register.inclusion_tag("mlops/chips.html")
def tag_chips(link: Link, suggestions: dict[int, list[Suggestion]] | None = None, detail: bool = False):
    """A link's tags and suggestions. Without ``suggestions`` (one link's page) they are read here."""
    if suggestions is None:
        suggestions = selectors.suggestions_open(link_ids=[link.pk])
    return chips_context(link, suggestions.get(link.pk, []), detail=detail)


@register.inclusion_tag("mlops/decide_form.html", takes_context=True)
def suggestion_decide_form(
    context, links: Link | Iterable[Link], suggestions: dict[int, list[Suggestion]] | None = None
):
    """The one form every chip button submits (by its ``form`` attribute) when JavaScript is off.

    It stands outside the link list's bulk-action form, since forms cannot nest; it is only
    written when some chip on the page has a button."""
    rows = _links(links)
    needed = any(suggestions.get(link.pk) for link in rows) if suggestions else False
    needed = needed or any(
        item.origin == TagOrigin.MODEL for link in rows for item in getattr(link, "tag_list", [])
    )
    request = context.get("request")
    return {
        "needed": needed,
        "form_id": DECIDE_FORM_ID,
        "csrf_token": context.get("csrf_token"),
        "next": request.get_full_path() if request is not None else "",
    }


@register.filter
def can_see_models(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Model owners and staff see the model pages (and the header link to them)."""
    return bool(getattr(user, "is_authenticated", False)) and selectors.can_see_models(user)


@register.filter
def can_see_dashboard(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Model owners, reviewers and staff see the model dashboard."""
    return bool(getattr(user, "is_authenticated", False)) and selectors.can_see_dashboard(user)


@register.filter
def explain_terms(explanation: Any, limit: int = 5) -> str:
    """``[[term, weight], ...]`` as "term (0.41), other (0.22)"."""
    parts = []
    for entry in (explanation or [])[: int(limit)]:
        if isinstance(entry, list | tuple) and len(entry) == 2:
            term, weight = entry
            try:
                parts.append(f"{term} ({float(weight):.2f})")
            except (TypeError, ValueError):
                parts.append(str(term))
        else:
            parts.append(str(entry))
    return ", ".join(parts)


@register.simple_tag
def headline_metrics() -> list[dict[str, str]]:
    """The offline metrics a list of versions has room for, as ``{name, label}``."""
    return [{"name": name, "label": metric_label(name)} for name in HEADLINE_METRICS]


@register.filter
def metric(metrics: Any, name: str) -> Any:
    """One of a version's metrics by name: ``{{ version.metrics|metric:name }}``."""
    return metrics.get(name) if isinstance(metrics, dict) else None


@register.filter
def num(value: Any, digits: int = 3) -> str:
    """A metric as a fixed-point number, or "–" when there is none."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "–"
    return f"{value:.{int(digits)}f}"


@register.filter
def signed(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "–"
    return f"{value:+.{int(digits)}f}"


@register.filter
def md_cell(value: Any) -> str:
    """Text that is safe inside a Markdown table cell: no pipes or line breaks to break the row, and
    no raw HTML (tag names and reasons are people's text, and the cards end up in the docs site)."""
    text = "" if value is None else str(value)
    for raw, escaped in (("\\", "\\\\"), ("|", "\\|"), ("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = text.replace(raw, escaped)
    return " ".join(text.split())


@register.filter
def for_link(mapping: dict | None, link_id: int) -> Any:
    return mapping.get(link_id) if mapping else None


@register.inclusion_tag("mlops/personal_status.html")
def personal_model_status(user: AbstractBaseUser) -> dict[str, Any]:
    """On a user's settings page: where their suggestions come from now, and what is next."""
    return {"status": selectors.personal_status(user=cast(User, user))}
