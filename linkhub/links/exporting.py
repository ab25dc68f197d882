"""The rows of an export, read in chunks so that a large export does not fill memory."""

from __future__ import annotations

from collections.abc import Iterator

from django.contrib.auth.models import User

from . import selectors
from .bookmarks import ExportItem


def export_items(*, owner: User, filters: selectors.LinkFilters) -> Iterator[ExportItem]:
    qs = selectors.link_list(owner=owner, filters=filters)
    chunk: list = []
    for link in qs.iterator(chunk_size=1000):
        chunk.append(link)
        if len(chunk) == 1000:
            yield from _items(chunk)
            chunk = []
    yield from _items(chunk)


def _items(links: list) -> Iterator[ExportItem]:
    selectors.links_attach_tags(links)
    for link in links:
        yield ExportItem(
            url=link.url,
            title=link.title,
            description=link.description,
            notes=link.notes,
            tags=[t.name for t in link.tag_list],
            created_at=link.created_at,
            updated_at=link.updated_at,
            is_read=link.is_read,
            is_private=link.is_private,
        )
