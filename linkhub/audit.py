"""Auditing, shared by every app: append-only audit rows, and where a change comes from.

Audit rows (``links.TagDecision``, ``mlops.StageEvent``, ...) derive from ``AppendOnly``: their
model refuses updates and deletes, their queryset refuses bulk ones, the admin shows them
read-only, and on PostgreSQL a trigger refuses UPDATE and DELETE as well. They keep plain copies of
what they refer to (a link's URL, an actor's name), so they stay readable when a link or a user is
deleted, and refer to those rows through ``loose_ref`` (no database constraint).

Where a change comes from (the web UI, the API, the admin, an import or the command line): the
middleware sets it from the request path, an import task or a command sets it around its work,
and the services read it when the caller did not pass one. Context variables keep it per request
and per thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

from django.db import models
from django.http import HttpRequest, HttpResponse


class AuditRowImmutable(Exception):
    """An attempt to change or delete an audit row."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditRowImmutable(f"{self.model.__name__} rows are append-only: they cannot be updated.")

    def delete(self):
        raise AuditRowImmutable(f"{self.model.__name__} rows are append-only: they cannot be deleted.")


class AppendOnly(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise AuditRowImmutable(f"{type(self).__name__} rows are append-only: they cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditRowImmutable(f"{type(self).__name__} rows are append-only: they cannot be deleted.")


def loose_ref(to, *, optional: bool = False, blank: bool | None = None, related_name: str = "+"):
    """A reference from an audit row that survives the row it points to: no database
    constraint, nothing done on delete (the row keeps plain copies, e.g. ``actor_name``)."""
    return models.ForeignKey(
        to,
        null=optional,
        blank=optional if blank is None else blank,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name=related_name,
    )


_source: ContextVar[str] = ContextVar("linkhub_change_source", default="cli")
_request: ContextVar[HttpRequest | None] = ContextVar("linkhub_change_request", default=None)


def current_source() -> str:
    return _source.get()


def current_actor():
    """The signed-in user of the request being served (DRF sets it on the request too), or None."""
    request = _request.get()
    user = getattr(request, "user", None) if request is not None else None
    return user if user is not None and user.is_authenticated else None


@contextlib.contextmanager
def change_source(source: str) -> Iterator[None]:
    token = _source.set(source)
    try:
        yield
    finally:
        _source.reset(token)


def source_for_path(path: str) -> str:
    if path.startswith("/api/"):
        return "api"
    if path.startswith("/admin/"):
        return "admin"
    return "ui"


class ChangeSourceMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request.set(request)
        try:
            with change_source(source_for_path(request.path)):
                return self.get_response(request)
        finally:
            _request.reset(token)
