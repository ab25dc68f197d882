"""Guards around every request: bad input is a 4xx and a missing database a 503, never a 500.

- NUL bytes: PostgreSQL refuses them in text, so a NUL in the path, the query string or a form
  field would fail deep inside a query. ``RequestGuardMiddleware`` answers 400 before any view
  runs (JSON bodies are checked by ``linkhub.parsers.JSONParser``, and Django already drops what
  cannot be printed from uploaded file names).
- Form bodies over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` or ``DATA_UPLOAD_MAX_NUMBER_FIELDS``, and
  malformed multipart bodies, are a 400 with a message on pages and on the API.
- The database or Redis (the cache behind the throttles) being down is a 503 with
  ``Retry-After``: JSON ``{"detail": ...}`` under ``/api/``, a plain page elsewhere. The API maps
  these in its exception handler (``linkhub.api``); pages here in ``process_exception``; and
  what fails outside any view (a session saved after the view) in the 500 handler below.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable

import redis.exceptions
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.html import escape
from django.views import defaults

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30
# What a database or Redis that is down, restarting or unreachable raises.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
)
UNAVAILABLE_MESSAGE = (
    "LinkHub cannot reach its database or cache right now. Nothing was changed; try again shortly."
)
NUL_MESSAGE = "The request contains a NUL character (\\x00), which LinkHub does not accept."
TOO_LARGE_MESSAGE = "The request body is larger than this server accepts ({limit:,} bytes)."
TOO_MANY_FIELDS_MESSAGE = "The request has more fields than this server accepts ({limit:,})."
TOO_MANY_FILES_MESSAGE = "The request has more files than this server accepts ({limit:,})."
BAD_MULTIPART_MESSAGE = "The multipart body cannot be read: {error}"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def has_nul(values: Iterable[str]) -> bool:
    return any("\x00" in value for value in values)


PAGE = (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{title} · LinkHub</title></head>\n'
    '<body style="font-family: sans-serif; max-width: 34rem; margin: 4rem auto;">\n'
    "<h1>{title}</h1>\n<p>{message}</p>\n"
    '<p><a href="/">Back to LinkHub</a></p>\n</body></html>\n'
)
TITLES = {400: "Bad request", 503: "LinkHub is unavailable"}


def error_response(request: HttpRequest, status: int, message: str) -> HttpResponse:
    """``{"detail": message}`` for the API, a plain page for everyone else. The page uses no
    template: templates read the session and the user, which need the database."""
    if is_api(request):
        return JsonResponse({"detail": message}, status=status)
    title = TITLES.get(status, "Error")
    return HttpResponse(PAGE.format(title=escape(title), message=escape(message)), status=status)


def unavailable_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    logger.warning(
        "%s %s: service unavailable: %s: %s", request.method, request.path, type(exc).__name__, exc
    )
    response = error_response(request, 503, UNAVAILABLE_MESSAGE)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def body_limit_message(exc: Exception) -> str:
    """The message for a body Django refused to read, naming the limit it hit."""
    if isinstance(exc, RequestDataTooBig):
        return TOO_LARGE_MESSAGE.format(limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if isinstance(exc, TooManyFieldsSent):
        return TOO_MANY_FIELDS_MESSAGE.format(limit=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS)
    if isinstance(exc, TooManyFilesSent):
        return TOO_MANY_FILES_MESSAGE.format(limit=settings.DATA_UPLOAD_MAX_NUMBER_FILES)
    return BAD_MULTIPART_MESSAGE.format(error=exc)


BODY_ERRORS = (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent, MultiPartParserError)


class RequestGuardMiddleware:
    """Early in MIDDLEWARE: refuses NUL bytes and unreadable forms, maps outages to 503."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refused = self.refuse(request)
        if refused is not None:
            return refused
        return self.get_response(request)

    def refuse(self, request: HttpRequest) -> HttpResponse | None:
        if "\x00" in request.path or "\x00" in request.path_info:
            return error_response(request, 400, NUL_MESSAGE)
        try:
            query = request.GET
            if has_nul(query.keys()) or has_nul(v for values in query.lists() for v in values[1]):
                return error_response(request, 400, NUL_MESSAGE)
            # The API reads its bodies through DRF's parsers, which check them (and only once the
            # caller is authenticated); pages read forms straight from request.POST.
            if request.method == "POST" and not is_api(request) and request.content_type in FORM_TYPES:
                form = request.POST
                if has_nul(form.keys()) or has_nul(v for values in form.lists() for v in values[1]):
                    return error_response(request, 400, NUL_MESSAGE)
        except BODY_ERRORS as exc:
            logger.info("%s %s: refused body: %s", request.method, request.path, exc)
            return error_response(request, 400, body_limit_message(exc))
        return None

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if isinstance(exc, UNAVAILABLE_ERRORS):
            return unavailable_response(request, exc)
        if isinstance(exc, BODY_ERRORS):
            # A view read a body over the limits: the same 400 as when this middleware reads it.
            return error_response(request, 400, body_limit_message(exc))
        return None


# --- error handlers (linkhub/urls.py): JSON under /api/, the app's pages elsewhere ----------------


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return JsonResponse({"detail": "Bad request."}, status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return JsonResponse({"detail": str(exception) or "You may not do this."}, status=403)
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """The last net: an outage that surfaced outside any view is still a 503, not a 500."""
    exc = sys.exc_info()[1]
    if exc is not None and isinstance(exc, UNAVAILABLE_ERRORS):
        return unavailable_response(request, exc)
    if is_api(request):
        return JsonResponse({"detail": "Server error."}, status=500)
    return defaults.server_error(request)
