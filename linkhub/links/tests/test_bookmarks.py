"""Parsing and writing Netscape bookmark files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from linkhub.links.bookmarks import (
    BookmarkFileError,
    ExportItem,
    parse_netscape,
    parse_timestamp,
    render_netscape,
)

FIXTURES = Path(__file__).parent / "fixtures"


def test_firefox_export_with_nested_folders_tags_unicode_and_entities():
    items = parse_netscape((FIXTURES / "firefox.html").read_bytes())
    by_url = {i.url: i for i in items}
    py = by_url["https://docs.python.org/3/"]
    assert py.title == "Python 3 & you — docs"
    assert py.description == "The official documentation <3"
    assert py.tags == ["Programming", "Python", "docs", "reference"]
    assert py.add_date == datetime.fromtimestamp(1600000200, tz=UTC)
    assert by_url["https://go.dev/"].tags == ["Programming"]
    # The toolbar is a browser root folder: structure, not a topic.
    assert by_url["https://news.ycombinator.com/"].tags == []
    wiki = by_url["https://ru.wikipedia.org/wiki/Заглавная_страница"]
    assert wiki.title == "Википедия — свободная энциклопедия"
    assert wiki.tags == ["Кириллица 日本語"]
    # Non-web entries are parsed (the importer rejects them one by one, with a reason).
    assert "place:sort=8&maxResults=10" in by_url
    assert len(items) == 7


def test_pinboard_private_toread_multiline_description_and_millisecond_dates():
    items = parse_netscape((FIXTURES / "pinboard.html").read_bytes())
    first, second, third = items
    assert first.private is True and first.toread is True
    assert first.tags == ["secret", "later"]
    assert first.description == "Line one of a description"
    assert second.private is False and second.toread is False
    assert second.add_date == datetime.fromtimestamp(1500000001, tz=UTC)
    assert second.description == ""
    assert third.tags == ["dup"]


def test_latin1_file_with_declared_charset():
    data = (
        '<!DOCTYPE NETSCAPE-Bookmark-file-1><META HTTP-EQUIV="Content-Type" CONTENT="text/html; '
        'charset=ISO-8859-1"><DL><p><DT><A HREF="https://example.com/">Caf\xe9</A></DL>'
    ).encode("latin-1")
    assert parse_netscape(data)[0].title == "Café"


def test_utf8_bom_is_ignored():
    data = b'\xef\xbb\xbf<DL><DT><A HREF="https://example.com/">x</A></DL>'
    assert parse_netscape(data)[0].url == "https://example.com/"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"   \n  ", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"just some text, no markup at all", "No bookmarks"),
        (b"<html><body><p>Hello</p></body></html>", "No bookmarks"),
        (b"<DL><p><DT><H3>Empty folder</H3><DL><p></DL></DL>", "No bookmarks"),
        (b'{"links": []}', "No bookmarks"),
    ],
)
def test_unusable_files_raise_a_readable_error(data, message):
    with pytest.raises(BookmarkFileError) as exc:
        parse_netscape(data)
    assert message.lower() in str(exc.value).lower()


def test_too_many_bookmarks_is_refused():
    body = "".join(f'<DT><A HREF="https://example.com/{i}">{i}</A>\n' for i in range(11))
    with pytest.raises(BookmarkFileError, match="more than 10"):
        parse_netscape(f"<DL>{body}</DL>".encode(), max_links=10)


def test_absurdly_deep_folders_are_refused():
    data = ("<DT><H3>f</H3><DL>" * 200 + '<DT><A HREF="https://example.com/">x</A>').encode()
    with pytest.raises(BookmarkFileError, match="nested"):
        parse_netscape(data)


def test_hostile_markup_is_only_text():
    data = (
        b'<DL><DT><A HREF="https://example.com/" onclick="steal()">'
        b"<script>alert(1)</script>Title<img src=x onerror=alert(1)></A>"
        b"<DD><b>bold</b> <script>x()</script>desc</DL>"
    )
    (item,) = parse_netscape(data)
    assert item.title == "alert(1)Title"
    assert "<" not in item.title and "<" not in item.description


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1600000000", 1600000000),
        ("1600000000000", 1600000000),
        ("1600000000000000", 1600000000),
        ("0", None),
        ("-5", None),
        ("soon", None),
        ("", None),
        (None, None),
        ("99999999999999999999999", None),
    ],
)
def test_parse_timestamp(value, expected):
    result = parse_timestamp(value)
    assert (result.timestamp() if result else None) == expected


def test_export_round_trips_through_the_parser():
    when = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    items = [
        ExportItem(
            url="https://example.com/a?x=1&y=2",
            title='Quotes " and <tags> & ampersands',
            description="Multi\nline <b>description</b>",
            notes="",
            tags=["one", "two words", "ünï"],
            created_at=when,
            updated_at=when,
            is_read=False,
            is_private=True,
        )
    ]
    html = "".join(render_netscape(items)).encode()
    (parsed,) = parse_netscape(html)
    assert parsed.url == "https://example.com/a?x=1&y=2"
    assert parsed.title == 'Quotes " and <tags> & ampersands'
    assert parsed.description == "Multi line <b>description</b>"
    assert parsed.tags == ["one", "two words", "ünï"]
    assert parsed.add_date == when
    assert parsed.private is True and parsed.toread is True
