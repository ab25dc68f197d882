"""Shared API pieces: pagination and the error format."""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import PageNumberPagination
from rest_framework.views import exception_handler as drf_exception_handler

from linkhub.pagination import DeferredJoinPaginator


class Pagination(PageNumberPagination):
    django_paginator_class = DeferredJoinPaginator
    page_size_query_param = "page_size"
    max_page_size = 500


def exception_handler(exc: Exception, context: dict[str, Any]):
    """DRF's handler, plus: Django ValidationErrors raised by services become 400s."""
    from django.core.exceptions import ValidationError as DjangoValidationError
    from rest_framework.exceptions import ValidationError

    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "message_dict"):
            exc = ValidationError(exc.message_dict)
        else:
            exc = ValidationError({"detail": exc.messages})
    return drf_exception_handler(exc, context)
