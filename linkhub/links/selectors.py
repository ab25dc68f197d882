"""Reads for links and tags, always scoped to one owner."""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.shortcuts import get_object_or_404

from .models import ImportJob, Link, Tag, TaggedLink, TagOrigin, tag_key

SORTS = {
    "newest": ("-created_at", "-id"),
    "oldest": ("created_at", "id"),
    "title": ("title", "id"),
    "-title": ("-title", "-id"),
    "updated": ("-updated_at", "-id"),
    "domain": ("domain", "-created_at"),
}
SORT_RELEVANCE = "relevance"


@dataclass
class LinkFilters:
    q: str = ""
    tags: list[str] = field(default_factory=list)
    sort: str = "newest"
    is_read: bool | None = None
    domain: str = ""
    untagged: bool = False


def uses_postgres_search() -> bool:
    return connection.vendor == "postgresql"


# What a list shows of a link; the snapshot text and search vector stay in the database.
LIST_FIELDS = (
    "id",
    "owner_id",
    "url",
    "domain",
    "title",
    "description",
    "notes",
    "is_read",
    "is_private",
    "created_at",
    "updated_at",
)


@dataclass(frozen=True, slots=True)
class LinkTag:
    name: str
    origin: str

    @property
    def origin_label(self) -> str:
        return TagOrigin(self.origin).label


def _tags_by_link(link_ids: Iterable[int]) -> dict[int, list[LinkTag]]:
    """Each link's tags, by name, with one query for all of them. Cheaper than
    prefetch_related: no TaggedLink or Tag model objects are built for a page."""
    by_link: dict[int, list[LinkTag]] = {pk: [] for pk in link_ids}
    if by_link:
        rows = (
            TaggedLink.objects.filter(content_object_id__in=by_link)
            .order_by("tag__key")
            .values_list("content_object_id", "tag__name", "origin")
        )
        for link_id, name, origin in rows:
            by_link[link_id].append(LinkTag(name, origin))
    return by_link


def links_attach_tags(links: Sequence[Link]) -> Sequence[Link]:
    """Set ``link.tag_list`` ([LinkTag]) on each link."""
    by_link = _tags_by_link(link.pk for link in links)
    for link in links:
        link.tag_list = by_link[link.pk]
    return links


def link_rows_attach_tags(rows: Sequence[dict[str, Any]]) -> Sequence[dict[str, Any]]:
    """Set ``row["tag_list"]`` on rows of ``link_list(...).values(*LIST_FIELDS)``: the API's
    list, which needs no model instances at all."""
    by_link = _tags_by_link(row["id"] for row in rows)
    for row in rows:
        row["tag_list"] = by_link[row["id"]]
    return rows


def _search_terms(q: str) -> tuple[list[str], list[str]]:
    """Split a query into required and excluded terms; quotes keep phrases together."""
    try:
        parts = shlex.split(q)
    except ValueError:  # an unbalanced quote
        parts = q.replace('"', " ").split()
    include = [p for p in parts if not p.startswith("-") or len(p) == 1]
    exclude = [p[1:] for p in parts if p.startswith("-") and len(p) > 1]
    return include, exclude


_TEXT_FIELDS = ("title", "description", "url", "notes", "content_text")


def _term_q(term: str) -> Q:
    q = Q()
    for name in _TEXT_FIELDS:
        q |= Q(**{f"{name}__icontains": term})
    return q


def link_search(qs: QuerySet[Link], q: str, *, rank: bool) -> QuerySet[Link]:
    """Full-text search over title, description, URL, notes and snapshot text.

    PostgreSQL: a weighted tsvector with websearch syntax ("phrases", -exclusions, or), plus
    a substring match on the title and URL so partial words and domains still find links.
    SQLite: every term must appear (case-insensitive substring); quoted phrases, -exclusions.
    """
    q = q.strip()
    if not q:
        return qs
    if uses_postgres_search():
        query = SearchQuery(q, search_type="websearch", config=settings.SEARCH_CONFIG)
        qs = qs.filter(Q(search_vector=query) | Q(title__icontains=q) | Q(url__icontains=q))
        if rank:
            qs = qs.annotate(rank=SearchRank(F("search_vector"), query))
        return qs
    include, exclude = _search_terms(q)
    for term in include:
        qs = qs.filter(_term_q(term))
    for term in exclude:
        qs = qs.exclude(_term_q(term))
    return qs


def link_list(*, owner: User, filters: LinkFilters | None = None) -> QuerySet[Link]:
    f = filters or LinkFilters()
    qs = Link.objects.filter(owner=owner)
    if f.q:
        qs = link_search(qs, f.q, rank=f.sort == SORT_RELEVANCE)
    keys = list(dict.fromkeys(tag_key(t) for t in f.tags if t.strip()))
    if keys:
        tag_ids = dict(Tag.objects.filter(owner=owner, key__in=keys).values_list("key", "id"))
        if len(tag_ids) < len(keys):
            return Link.objects.none()  # a tag the user does not have: nothing can match
        for tag_id in tag_ids.values():
            qs = qs.filter(pk__in=TaggedLink.objects.filter(tag_id=tag_id).values("content_object_id"))
    if f.untagged:
        qs = qs.filter(~Exists(TaggedLink.objects.filter(content_object=OuterRef("pk"))))
    if f.is_read is not None:
        qs = qs.filter(is_read=f.is_read)
    if f.domain:
        qs = qs.filter(domain=f.domain.lower())
    if f.sort == SORT_RELEVANCE and f.q and uses_postgres_search():
        qs = qs.order_by("-rank", "-created_at", "-id")
    else:
        qs = qs.order_by(*SORTS.get(f.sort, SORTS["newest"]))
    return qs.only(*LIST_FIELDS)


def link_get(*, owner: User, pk: int) -> Link:
    """The owner's link with its ``tag_list``, or 404: another user's link looks the same as a
    missing one."""
    link = get_object_or_404(Link.objects.filter(owner=owner).defer("search_vector"), pk=pk)
    links_attach_tags([link])
    return link


def links_by_ids(*, owner: User, ids: list[int]) -> QuerySet[Link]:
    return Link.objects.filter(owner=owner, pk__in=ids)


def tag_list(*, owner: User, q: str = "") -> QuerySet[Tag]:
    qs = Tag.objects.filter(owner=owner)
    if q:
        qs = qs.filter(name__icontains=q)
    return qs.annotate(link_count=Count("tagged_links")).order_by("key", "id")


def tag_get(*, owner: User, pk: int) -> Tag:
    return get_object_or_404(Tag.objects.filter(owner=owner), pk=pk)


def tag_get_by_name(*, owner: User, name: str) -> Tag | None:
    return Tag.objects.filter(owner=owner, key=tag_key(name)).first()


def import_job_list(*, owner: User) -> QuerySet[ImportJob]:
    return ImportJob.objects.filter(owner=owner)


def import_job_get(*, owner: User, pk: int) -> ImportJob:
    return get_object_or_404(ImportJob.objects.filter(owner=owner), pk=pk)
