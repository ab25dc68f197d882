"""The API's content negotiation (its own module: DRF imports it while defining APIView)."""

from __future__ import annotations

from rest_framework.negotiation import DefaultContentNegotiation


class ContentNegotiation(DefaultContentNegotiation):
    """``?format=`` names a renderer; one we do not have falls back to the Accept header instead
    of DRF's 404, which would make any URL with a stray ``format`` parameter look missing."""

    def filter_renderers(self, renderers, format):
        matching = [r for r in renderers if r.format == format]
        return matching or renderers
