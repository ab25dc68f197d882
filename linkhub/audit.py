"""Where a change comes from: the web UI, the API, the admin, an import or the command line.

Tag decisions are audited with their source. The middleware sets it from the request path, an
import task or a command sets it around its work, and the services read it when the caller did
not pass one. Context variables keep it per request and per thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

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
