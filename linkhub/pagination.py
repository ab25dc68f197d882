"""A paginator that finds a page's ids first, then fetches only those rows."""

from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet


class DeferredJoinPaginator(Paginator):
    """``LIMIT n OFFSET k`` over full rows makes the database read k rows only to skip them.
    Selecting the page's primary keys in a subquery lets an index do the skipping (an
    index-only scan on PostgreSQL); full rows are read for the n ids of the page only."""

    def page(self, number) -> Page:
        if not isinstance(self.object_list, QuerySet):
            return super().page(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        qs = self.object_list
        objects = list(qs.filter(pk__in=qs.values("pk")[bottom:top])) if top > bottom else []
        return Page(objects, number, self)
