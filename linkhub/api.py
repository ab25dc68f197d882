"""Shared API pieces: pagination and the error format (the schema's errors: linkhub/schema.py)."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from linkhub.pagination import DeferredJoinPaginator

from .middleware import RETRY_AFTER_SECONDS, UNAVAILABLE_ERRORS, UNAVAILABLE_MESSAGE, body_limit_message

logger = logging.getLogger(__name__)


class Pagination(PageNumberPagination):
    django_paginator_class = DeferredJoinPaginator
    page_size_query_param = "page_size"
    max_page_size = 500


def exception_handler(exc: Exception, context: dict[str, Any]):
    """DRF's handler, plus: Django ValidationErrors raised by services become 400s; bodies over
    Django's limits are 400s; a database or Redis that cannot be reached is a 503 with
    Retry-After; every error body is an object (``{"detail": ...}`` or field errors)."""
    if isinstance(exc, UNAVAILABLE_ERRORS):
        request = context.get("request")
        logger.warning(
            "%s %s: service unavailable: %s: %s",
            getattr(request, "method", "?"),
            getattr(request, "path", "?"),
            type(exc).__name__,
            exc,
        )
        return Response(
            {"detail": UNAVAILABLE_MESSAGE}, status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
        )
    if isinstance(exc, RequestDataTooBig | TooManyFieldsSent | TooManyFilesSent):
        exc = ParseError(body_limit_message(exc))
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "message_dict"):
            exc = ValidationError(exc.message_dict)
        else:
            exc = ValidationError({"detail": exc.messages})
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, list):
        response.data = {"detail": response.data}
    return response
