"""The API's body parsers: every malformed, over-deep or over-large body is a 400 with a message.

DRF's own parsers leave three holes: ``json.load`` recurses in C and raises RecursionError (a 500)
on a body of some ten thousand nested brackets; neither its JSON nor its form parser has a size
limit (Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` only guards ``request.body`` and ``request.POST``);
and Django's limits on multipart bodies surface as exceptions DRF does not turn into a 400.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import QueryDict
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils.json import strict_constant

from .middleware import NUL_MESSAGE, body_limit_message

MAX_DEPTH = 64
TOO_DEEP_MESSAGE = f"The JSON body is nested more than {MAX_DEPTH} levels deep."

# A JSON string, escapes included; its brackets are text, not structure. No nested quantifier,
# so matching stays linear in the body's length.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _read_limited(stream) -> bytes:
    """The body, or a 400 once it passes DATA_UPLOAD_MAX_MEMORY_SIZE (read no further than that)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if stream is None:
        return b""
    if limit is None:
        return stream.read()
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ParseError(body_limit_message(RequestDataTooBig()))
    return data


def json_depth_exceeds(data: bytes, max_depth: int = MAX_DEPTH) -> bool:
    """Whether the brackets outside strings nest deeper than ``max_depth``: one pass, no recursion.
    Malformed JSON may be misjudged either way; ``json.loads`` refuses it next anyway."""
    brackets = _JSON_STRING.sub(b"", data).translate(None, delete=_NOT_BRACKETS)
    depth = 0
    for byte in brackets:
        if byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > max_depth:
                return True
        else:
            depth -= 1
    return False


def contains_nul(value: Any) -> bool:
    """Whether any string in a parsed JSON document (keys too) holds a NUL; iterative."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        data = _read_limited(stream)
        if json_depth_exceeds(data):
            raise ParseError(TOO_DEEP_MESSAGE)
        try:
            text = data.decode(encoding)
            parse_constant = strict_constant if self.strict else None
            value = json.loads(text, parse_constant=parse_constant)
        except (ValueError, LookupError) as exc:  # UnicodeDecodeError is a ValueError
            raise ParseError(f"JSON parse error - {exc}") from None
        except RecursionError:  # the scan above rules this out; kept so it can never be a 500
            raise ParseError(TOO_DEEP_MESSAGE) from None
        if contains_nul(value):
            raise ParseError(NUL_MESSAGE)
        return value


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        data = _read_limited(stream)
        try:
            return QueryDict(data, encoding=encoding)
        except TooManyFieldsSent as exc:
            raise ParseError(body_limit_message(exc)) from None


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent) as exc:
            raise ParseError(body_limit_message(exc)) from None
