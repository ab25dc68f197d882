"""The OpenAPI schema's error responses: every status an operation can answer is declared.

Its own module, apart from linkhub.api: DRF imports linkhub.api (the pagination class) while it
is still loading, and drf-spectacular's AutoSchema imports DRF's generic views.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


ERROR_DESCRIPTIONS = {
    400: 'Invalid input: field errors `{field: [message]}`, or `{"detail": message}` for a body '
    "that cannot be read (malformed, nested over 64 levels, larger than the limit, a NUL character).",
    401: "No credentials, or an unknown or revoked token.",
    403: "Signed in, but not allowed: the action needs a role, or a session request lacks its CSRF token.",
    404: "No such object, or another user's object; a malformed id; a page past the end.",
    409: "The object's state does not allow this.",
    415: "The body's content type is not one this operation reads.",
    429: "Throttled; try again later.",
    503: "The database or cache cannot be reached; nothing was changed. Retry after `Retry-After` seconds.",
}


def error_response(status: int, description: str | None = None) -> OpenApiResponse:
    response: Any = OpenApiTypes.OBJECT if status == 400 else ErrorSerializer
    return OpenApiResponse(response=response, description=description or ERROR_DESCRIPTIONS[status])


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    """For ``extend_schema(responses={200: X, **errors(403, 409)})``: the errors a view adds to
    those every operation gets (see ``AutoSchema``)."""
    return {status: error_response(status) for status in statuses}


class AutoSchema(SpectacularAutoSchema):
    """Declares the errors any operation can answer, so the schema lists every status it returns:
    400 (a query or body it refuses), 503 (an outage), 401 unless it is open to everyone, 403 for
    unsafe methods (CSRF with a session), 404 with a path parameter or a page number, 415 where a
    body is read, and 429 where a throttle applies. Views add their own with ``errors()``."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        statuses = [400, 503]
        if not self._is_open():
            statuses.append(401)
        if self.method not in ("GET", "HEAD", "OPTIONS") and not self._is_open():
            statuses.append(403)
        if "{" in self.path or self._is_paginated_list():
            statuses.append(404)
        if self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None:
            statuses.append(415)
        if getattr(self.view, "throttle_classes", None):
            statuses.append(429)
        for status in statuses:
            if str(status) not in responses:
                responses[str(status)] = self._get_response_for_code(
                    error_response(status), str(status), media_types=["application/json"]
                )
        if "503" in responses:
            responses["503"]["headers"] = {
                "Retry-After": {
                    "schema": {"type": "integer"},
                    "description": "Seconds to wait before trying again.",
                }
            }
        return responses

    def _is_open(self) -> bool:
        permissions = getattr(self.view, "permission_classes", [])
        return bool(permissions) and all(p is AllowAny for p in permissions)

    def _is_paginated_list(self) -> bool:
        return (
            self.method == "GET"
            and getattr(self.view, "pagination_class", None) is not None
            and self._is_list_view()
        )
