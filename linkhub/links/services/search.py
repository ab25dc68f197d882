"""The search index of links (PostgreSQL full-text search; SQLite searches without one)."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.contrib.postgres.search import SearchVector
from django.db import connection
from django.db.models import F, Func, TextField, Value
from django.db.models.functions import Left

from ..models import Link

SEARCH_TEXT_MAX = 200_000  # characters of snapshot text that go into the search index


def link_search_refresh(*, link_ids: Iterable[int]) -> None:
    """Rebuild the PostgreSQL search vector of these links (a no-op on SQLite)."""
    ids = list(link_ids)
    if connection.vendor != "postgresql" or not ids:
        return
    cfg = settings.SEARCH_CONFIG
    # "docs.python.org/3/library" -> "docs python org 3 library", so URL words are searchable.
    url_words = Func(
        F("url"),
        Value(r"[^[:alnum:]]+"),
        Value(" "),
        Value("g"),
        function="regexp_replace",
        output_field=TextField(),
    )
    vector = (
        SearchVector("title", weight="A", config=cfg)
        + SearchVector("description", weight="B", config=cfg)
        + SearchVector(url_words, weight="C", config=cfg)
        + SearchVector("notes", weight="C", config=cfg)
        + SearchVector(Left("content_text", SEARCH_TEXT_MAX), weight="D", config=cfg)
    )
    Link.objects.filter(pk__in=ids).update(search_vector=vector)
