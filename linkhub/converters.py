"""Path converters: a malformed id or name in a URL does not match any route, so it is a 404.

Django's ``<int:...>`` takes any number of digits, and 99999999999999999999 overflows PostgreSQL's
bigint in the view's query (a 500). Every id in every URL goes through ``<id:...>`` instead; DRF
routers use ``ID_REGEX`` as their ``lookup_value_regex``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.urls import register_converter
from django.urls.converters import get_converters

# 18 digits always fit a signed 64-bit integer (the largest, 9223372036854775807, has 19).
ID_MAX_DIGITS = 18
ID_REGEX = f"[0-9]{{1,{ID_MAX_DIGITS}}}"
ID_MAX = 10**ID_MAX_DIGITS - 1


class IdConverter:
    regex = ID_REGEX

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int | str) -> str:
        # A ValueError tells reverse() this value does not fit the route.
        number = int(value)
        if not 0 <= number <= ID_MAX:
            raise ValueError(f"{value!r} is not an id")
        return str(number)


class ChoiceConverter:
    """One of a fixed set of names, e.g. an artifact's file name. Subclasses set ``names``."""

    names: tuple[str, ...] = ()
    regex = "(?!)"  # matches nothing until a subclass names its choices

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        if value not in self.names:
            raise ValueError(f"{value!r} is not one of {self.names}")
        return value


def _register(converter: type, name: str) -> None:
    # urls modules may be imported in either order; the first one registers the converter.
    if name not in get_converters():
        register_converter(converter, name)


def register() -> None:
    """Register ``<id:...>``; the root URLconf calls this before it includes the apps' URLs."""
    _register(IdConverter, "id")


def register_choices(name: str, names: Iterable[str]) -> None:
    """Register ``<name:...>`` for exactly these names (an app's URLs call this for its own)."""
    choices = tuple(names)
    converter = type(
        f"{name.title()}Converter",
        (ChoiceConverter,),
        {"names": choices, "regex": "(?:" + "|".join(re.escape(n) for n in choices) + ")"},
    )
    _register(converter, name)
