"""Netscape Bookmark File format: parse what browsers export, and write it back.

The format is loose HTML: ``<DT><A HREF=...>`` entries, optional ``<DD>`` descriptions, and
``<DT><H3>`` folders whose ``<DL>`` holds their entries. Firefox, Chrome, Pinboard and linkding
all write it. Folders become tags; ``TAGS``, ``ADD_DATE``, ``PRIVATE`` and ``TOREAD`` are kept.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser

MAX_FOLDER_DEPTH = 64
# Browser root folders: structure, not a topic, so they do not become tags.
ROOT_FOLDER_NAMES = frozenset(
    {
        "bookmarks",
        "bookmarks bar",
        "bookmarks toolbar",
        "bookmarks menu",
        "other bookmarks",
        "mobile bookmarks",
        "favorites bar",
        "favourites bar",
        "unsorted bookmarks",
        "menu",
        "toolbar",
        "unfiled",
    }
)
ROOT_FOLDER_ATTRS = ("personal_toolbar_folder", "unfiled_bookmarks_folder")


class BookmarkFileError(ValueError):
    """The file as a whole cannot be imported; the message says why, for a person."""


@dataclass
class ParsedBookmark:
    url: str
    title: str = ""
    description: str = ""
    tags: list[str] = field(default_factory=list)
    add_date: datetime | None = None
    private: bool = False
    toread: bool = False
    line: int = 0


def parse_timestamp(value: str | None) -> datetime | None:
    """Seconds since the epoch; milliseconds and microseconds (some exporters) are accepted."""
    if not value:
        return None
    try:
        number = int(value.strip())
    except ValueError:
        return None
    if number <= 0:
        return None
    if number > 10**14:
        number //= 1_000_000
    elif number > 10**11:
        number //= 1000
    try:
        return datetime.fromtimestamp(number, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _split_tags(value: str | None) -> list[str]:
    if not value:
        return []
    return [t.strip() for t in value.split(",") if t.strip()]


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes")


class _NetscapeParser(HTMLParser):
    def __init__(self, max_links: int) -> None:
        super().__init__(convert_charrefs=True)
        self.max_links = max_links
        self.items: list[ParsedBookmark] = []
        self.folders: list[str | None] = []  # one entry per open <DL>; None for root folders
        self.pending_folder: str | None = None
        self.pending_folder_is_root = False
        self.in_h3 = False
        self.h3_text: list[str] = []
        self.h3_attrs: dict[str, str | None] = {}
        self.current: ParsedBookmark | None = None
        self.in_anchor = False
        self.anchor_text: list[str] = []
        self.in_dd = False
        self.dd_text: list[str] = []
        self.dd_target: ParsedBookmark | None = None
        self.saw_dl = False

    # -- helpers
    def _finish_dd(self) -> None:
        if self.in_dd and self.dd_target is not None:
            self.dd_target.description = " ".join("".join(self.dd_text).split())
        self.in_dd = False
        self.dd_text = []
        self.dd_target = None

    def _folder_tags(self) -> list[str]:
        return [f for f in self.folders if f]

    # -- HTMLParser callbacks
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("dt", "dl", "h3", "a"):
            self._finish_dd()  # a description runs until the next entry or folder
        if tag == "dl":
            self.saw_dl = True
            if len(self.folders) >= MAX_FOLDER_DEPTH:
                raise BookmarkFileError(f"Folders are nested more than {MAX_FOLDER_DEPTH} levels deep.")
            self.folders.append(None if self.pending_folder_is_root else self.pending_folder)
            self.pending_folder = None
            self.pending_folder_is_root = False
        elif tag == "h3":
            self.in_h3 = True
            self.h3_text = []
            self.h3_attrs = dict(attrs)
        elif tag == "a":
            a = dict(attrs)
            href = (a.get("href") or "").strip()
            if not href:
                return
            if len(self.items) >= self.max_links:
                raise BookmarkFileError(
                    f"The file has more than {self.max_links:,} bookmarks; split it and import "
                    "the parts one at a time."
                )
            tags = self._folder_tags() + _split_tags(a.get("tags"))
            self.current = ParsedBookmark(
                url=href,
                tags=list(dict.fromkeys(tags)),
                add_date=parse_timestamp(a.get("add_date")),
                private=_flag(a.get("private")),
                toread=_flag(a.get("toread")),
                line=self.getpos()[0],
            )
            self.in_anchor = True
            self.anchor_text = []
        elif tag == "dd":
            if self.items and not self.in_dd:
                self.in_dd = True
                self.dd_text = []
                self.dd_target = self.items[-1]

    def handle_endtag(self, tag: str) -> None:
        if tag == "dl":
            self._finish_dd()
            if self.folders:
                self.folders.pop()
        elif tag == "h3" and self.in_h3:
            self.in_h3 = False
            name = " ".join("".join(self.h3_text).split())[:100]
            is_root = any(k in self.h3_attrs for k in ROOT_FOLDER_ATTRS) or (
                name.lower() in ROOT_FOLDER_NAMES
            )
            self.pending_folder = name or None
            self.pending_folder_is_root = is_root
        elif tag == "a" and self.in_anchor and self.current is not None:
            self.current.title = " ".join("".join(self.anchor_text).split())
            self.items.append(self.current)
            self.current = None
            self.in_anchor = False

    def handle_data(self, data: str) -> None:
        if self.in_anchor:
            self.anchor_text.append(data)
        elif self.in_h3:
            self.h3_text.append(data)
        elif self.in_dd:
            self.dd_text.append(data)

    def close(self) -> None:
        super().close()
        if self.in_anchor and self.current is not None:  # an <A> never closed at end of file
            self.current.title = " ".join("".join(self.anchor_text).split())
            self.items.append(self.current)
        self._finish_dd()


_META_CHARSET = re.compile(rb"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.IGNORECASE)


def decode_bookmark_file(data: bytes) -> str:
    if not data.strip():
        raise BookmarkFileError("The file is empty.")
    if b"\x00" in data[:4096]:
        raise BookmarkFileError(
            "This is not a bookmark file (it looks like binary data). Export your bookmarks as "
            "an HTML file from your browser and upload that."
        )
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    match = _META_CHARSET.search(data[:2048])
    if match:
        try:
            return data.decode(match.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            pass
    return data.decode("cp1252", errors="replace")


def parse_netscape(data: bytes, *, max_links: int = 100_000) -> list[ParsedBookmark]:
    """Parse a bookmark export; raise BookmarkFileError if the file as a whole is unusable."""
    text = decode_bookmark_file(data)
    head = text[:4096].lower()
    if "<dl" not in head and "<dt" not in head and "<a " not in text[:65536].lower():
        raise BookmarkFileError(
            "No bookmarks found: this does not look like a bookmark export. Export your "
            "bookmarks as HTML (Netscape bookmark file format) and upload that file."
        )
    parser = _NetscapeParser(max_links=max_links)
    try:
        parser.feed(text)
        parser.close()
    except BookmarkFileError:
        raise
    except (AssertionError, ValueError) as exc:  # html.parser gives up on some broken markup
        raise BookmarkFileError(f"The file could not be read as HTML: {exc}") from None
    if not parser.items:
        raise BookmarkFileError(
            "No bookmarks found in the file. Export your bookmarks as HTML (Netscape bookmark "
            "file format) and upload that file."
        )
    return parser.items


# --- export -----------------------------------------------------------------------------------


@dataclass
class ExportItem:
    url: str
    title: str
    description: str
    notes: str
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    is_read: bool
    is_private: bool


def _attr(value: str) -> str:
    return html.escape(value, quote=True)


def render_netscape(items: Iterable[ExportItem]) -> Iterable[str]:
    """Yield the export in chunks, so a large export streams."""
    yield (
        "<!DOCTYPE NETSCAPE-Bookmark-file-1>\n"
        "<!-- This is an automatically generated file. It will be read and overwritten. -->\n"
        '<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=UTF-8">\n'
        "<TITLE>Bookmarks</TITLE>\n<H1>Bookmarks</H1>\n<DL><p>\n"
    )
    for item in items:
        attrs = [
            f'HREF="{_attr(item.url)}"',
            f'ADD_DATE="{int(item.created_at.timestamp())}"',
            f'LAST_MODIFIED="{int(item.updated_at.timestamp())}"',
            f'PRIVATE="{1 if item.is_private else 0}"',
            f'TOREAD="{0 if item.is_read else 1}"',
        ]
        if item.tags:
            attrs.append(f'TAGS="{_attr(",".join(item.tags))}"')
        line = f"<DT><A {' '.join(attrs)}>{html.escape(item.title or item.url)}</A>\n"
        if item.description:
            line += f"<DD>{html.escape(item.description)}\n"
        yield line
    yield "</DL><p>\n"


def render_json(items: Iterable[ExportItem], *, exported_at: datetime) -> Iterable[str]:
    """Yield a JSON document ``{"exported_at", "links": [...]}`` in chunks."""
    stamp = json.dumps(exported_at.isoformat())
    yield f'{{"format": "linkhub-export-1", "exported_at": {stamp}, "links": ['

    first = True
    for item in items:
        row = {
            "url": item.url,
            "title": item.title,
            "description": item.description,
            "notes": item.notes,
            "tags": item.tags,
            "is_read": item.is_read,
            "is_private": item.is_private,
            "created_at": item.created_at.isoformat(),
            "updated_at": item.updated_at.isoformat(),
        }
        yield ("" if first else ",") + "\n" + json.dumps(row, ensure_ascii=False)
        first = False
    yield "\n]}\n"
