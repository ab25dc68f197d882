"""CSS for the offline archive: inline ``@import`` and turn every ``url(...)`` into a data: URI.

References in a stylesheet are relative to the stylesheet's own URL, not the page's, so every
sheet is rewritten against the URL it came from, recursively through its imports.
"""

from __future__ import annotations

import codecs
import functools
import re
from typing import TYPE_CHECKING
from urllib.parse import urljoin

if TYPE_CHECKING:
    from snapshots.archive import Inliner

MAX_IMPORT_DEPTH = 8
# One scanner for the tokens that matter. Comments and strings are matched (and kept as they
# are) so that a "url(" inside them is not mistaken for a reference.
_TOKENS = re.compile(
    r"""
    (?P<comment>/\*.*?(?:\*/|\Z))
    | @import\s+(?:url\(\s*(?P<q1>["']?)(?P<import1>.*?)(?P=q1)\s*\)|(?P<q2>["'])(?P<import2>.*?)(?P=q2))
      (?P<conditions>[^;{}]*);?
    | url\(\s*(?:"(?P<dq>(?:[^"\\\n]|\\.)*)"|'(?P<sq>(?:[^'\\\n]|\\.)*)'|(?P<bare>(?:[^)"'\s\\]|\\.)*))\s*\)
    | "(?:[^"\\\n]|\\.)*" | '(?:[^'\\\n]|\\.)*'
    """,
    re.S | re.I | re.X,
)
_ESCAPE = re.compile(r"\\([0-9a-fA-F]{1,6}\s?|.)", re.S)
_CHARSET_RULE = re.compile(r'^\s*@charset\s+"[^"]*"\s*;', re.I)
_CHARSET_BYTES = re.compile(rb'^@charset\s+"([A-Za-z0-9_.:-]{1,40})"\s*;')
_CHARSET_PARAM = re.compile(r"charset=[\"']?([A-Za-z0-9_.:-]{1,40})", re.I)
_LAYER = re.compile(r"\blayer(?:\(\s*([^)]*?)\s*\))?", re.I)
_SUPPORTS = re.compile(r"\bsupports\(((?:[^()]|\([^()]*\))*)\)", re.I)
_STYLE_END = re.compile(r"</(style)", re.I)
_URL_WHITESPACE = re.compile(r"[\t\n\r]")


@functools.lru_cache(maxsize=8192)  # pages repeat the same relative links many times
def resolve_url(raw: str, base: str) -> str:
    """Resolve like a browser does: tabs and newlines inside a URL are ignored."""
    value = _URL_WHITESPACE.sub("", raw).strip()
    if not value:
        return ""
    try:
        return urljoin(base, value)
    except ValueError:  # malformed IPv6 host and the like: not a URL we can use
        return ""


def is_http(url: str) -> bool:
    return url[:7].lower() == "http://" or url[:8].lower() == "https://"


def _unescape(value: str) -> str:
    def char(match: re.Match[str]) -> str:
        escaped = match.group(1)
        hex_digits = escaped.strip()
        if hex_digits and all(c in "0123456789abcdefABCDEF" for c in hex_digits):
            code = int(hex_digits, 16)
            return chr(code) if 0 < code <= 0x10FFFF else "\ufffd"
        return "" if escaped == "\n" else escaped  # backslash-newline continues a string

    return _ESCAPE.sub(char, value) if "\\" in value else value


def _quote(url: str) -> str:
    cleaned = url.replace("\\", "%5C").replace('"', "%22").replace("\n", "").replace("\r", "")
    return f'url("{cleaned}")'


def decode_stylesheet(body: bytes, content_type: str) -> str:
    """Decode as browsers do: BOM, then the HTTP charset, then @charset, then UTF-8."""
    if body.startswith(codecs.BOM_UTF8):
        return body[3:].decode("utf-8", "replace")
    candidates = []
    if found := _CHARSET_PARAM.search(content_type):
        candidates.append(found.group(1))
    if found_bytes := _CHARSET_BYTES.match(body):
        candidates.append(found_bytes.group(1).decode("ascii"))
    for charset in candidates:
        try:
            return body.decode(charset, "replace")
        except LookupError:  # an unknown charset name: try the next source
            continue
    return body.decode("utf-8", "replace")


def _wrap(css: str, conditions: str) -> str:
    """Keep an import's layer, supports() and media conditions as nested blocks."""
    conditions = conditions.strip()
    if not conditions:
        return css
    if layer := _LAYER.search(conditions):
        name = (layer.group(1) or "").strip()
        css = f"@layer {name} {{\n{css}\n}}" if name else f"@layer {{\n{css}\n}}"
        conditions = conditions[: layer.start()] + conditions[layer.end() :]
    if supports := _SUPPORTS.search(conditions):
        css = f"@supports ({supports.group(1)}) {{\n{css}\n}}"
        conditions = conditions[: supports.start()] + conditions[supports.end() :]
    media = conditions.strip()
    return f"@media {media} {{\n{css}\n}}" if media else css


class CssRewriter:
    """Rewrites CSS text against its own URL, inlining what the inliner has captured."""

    def __init__(self, inliner: Inliner):
        self._inliner = inliner

    def stylesheet(self, url: str) -> str | None:
        """The captured stylesheet at ``url``, rewritten; None when it stays a link."""
        return self._load(url, depth=0, chain=frozenset())

    def rewrite(self, css: str, base: str, *, allow_imports: bool = True) -> str:
        """Rewrite a <style> block or a style attribute whose references resolve against ``base``."""
        depth = 0 if allow_imports else MAX_IMPORT_DEPTH
        return self._rewrite(css, base, depth=depth, chain=frozenset())

    def _load(self, url: str, *, depth: int, chain: frozenset[str]) -> str | None:
        resource = self._inliner.find(url)
        # An HTML error page where a stylesheet should be: the browser ignored it, and so do we.
        if resource is None or resource.content_type.split(";", 1)[0].strip().lower() == "text/html":
            self._inliner.note_missing(url)
            return None
        if not self._inliner.take(url, resource):
            return None
        text = _CHARSET_RULE.sub("", decode_stylesheet(resource.body, resource.content_type), count=1)
        return self._rewrite(text, url, depth=depth, chain=chain | {url})

    def _rewrite(self, css: str, base: str, *, depth: int, chain: frozenset[str]) -> str:
        def replace(match: re.Match[str]) -> str:
            groups = match.groupdict()
            raw_import = groups["import1"] if groups["import1"] is not None else groups["import2"]
            if raw_import is not None:
                return self._import(raw_import, groups["conditions"], base, depth=depth, chain=chain)
            raw = next((groups[g] for g in ("dq", "sq", "bare") if groups[g] is not None), None)
            if raw is None:  # a comment or a string: leave it alone
                return match.group(0)
            value = _unescape(raw).strip()
            # Fragment-only references (filter: url(#blur)) point into the document itself.
            if not value or value.startswith("#") or value[:5].lower() == "data:":
                return match.group(0)
            url = resolve_url(value, base)
            if not url:
                return match.group(0)
            return _quote(self._inliner.data_uri(url) or url)

        if "url(" not in css.lower() and "@import" not in css.lower():
            return _STYLE_END.sub(r"<\\/\1", css)
        return _STYLE_END.sub(r"<\\/\1", _TOKENS.sub(replace, css))

    def _import(self, raw: str, conditions: str, base: str, *, depth: int, chain: frozenset[str]) -> str:
        url = resolve_url(_unescape(raw), base)
        if url in chain:  # a cycle: the sheet is already being inlined further up
            return ""
        text = None
        if is_http(url) and depth < MAX_IMPORT_DEPTH:
            text = self._load(url, depth=depth + 1, chain=chain)
        if text is None:
            return f"@import {_quote(url or raw)}{conditions};"
        return _wrap(text, conditions)
