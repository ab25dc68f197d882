"""Readable text, page metadata and PDF text."""

from __future__ import annotations

import os
from contextlib import nullcontext
from pathlib import Path

import lxml.html
import pytest

from snapshots.capture import PageMetadata
from snapshots.extract import (
    extract_metadata,
    extract_text,
    normalise_text,
    pdf_text,
    visible_text,
)

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API in a test thread

DOCS = Path("/usr/share/doc/python3.11/html")
needs_docs = pytest.mark.skipif(not (DOCS / "library/argparse.html").exists(), reason="python3-doc missing")
DEBIAN_PDF = Path("/usr/share/doc/libtasn1-doc/libtasn1.pdf")

ARTICLE = """<!doctype html><html lang="en"><head><title>Garden notes</title></head><body>
<nav><a href="/">Home</a> <a href="/about">About</a></nav>
<article><h1>Keeping tomatoes</h1>
<p>Tomatoes need
   six hours of sun, and    they need it every day.</p>
<p>Water them at the roots in the morning.</p>
<pre>def water(plant):
    plant.soil += 1</pre>
</article>
<noscript><p>You need to enable JavaScript to run this app.</p></noscript>
<div hidden>Hidden template text</div>
<footer>© 2024 Garden Inc.</footer></body></html>"""


def test_extract_text_keeps_paragraphs_and_code_but_not_wrapping():
    text = extract_text(ARTICLE, "https://garden.example/tomatoes")
    lines = text.splitlines()
    assert "Tomatoes need six hours of sun, and they need it every day." in lines
    assert "Water them at the roots in the morning." in lines
    assert "    plant.soil += 1" in lines  # code keeps its indentation
    assert "enable JavaScript" not in text and "Hidden template text" not in text


def test_normalise_text_collapses_spaces_and_blank_lines():
    raw = "Title ¶\r\n\r\n\r\n\r\nFirst\t paragraph\u200b  here in C#  \n\n  indented   code\x00\n"
    assert normalise_text(raw) == "Title\n\nFirst paragraph here in C#\n\n  indented code"


def test_visible_text_is_the_fallback_for_pages_without_main_text():
    doc = lxml.html.document_fromstring(
        "<html><body><nav>Menu</nav><h1>Checking</h1><p>Please wait<script>var a = 1;</script>.</p>"
        "<style>p{}</style><footer>Legal</footer><ul><li>One</li><li>Two</li></ul><button>Accept</button>"
        "</body></html>"
    )
    assert normalise_text(visible_text(doc)) == "Checking\n\nPlease wait.\n\nOne\n\nTwo\n\nAccept"


def test_extract_text_of_an_empty_page_is_empty():
    assert extract_text("", "https://x.example/") == ""
    assert (
        extract_text("<html><body><noscript>Enable JavaScript</noscript></body></html>", "https://x.example/")
        == ""
    )


@needs_docs
def test_extract_text_of_a_python_docs_page():
    html = (DOCS / "library/argparse.html").read_text()
    text = extract_text(html, "https://docs.python.org/3.11/library/argparse.html")
    assert text.startswith("argparse — Parser for command-line options")
    assert "The argparse module makes it easy to write user-friendly command-line interfaces." in text
    assert "parser = argparse.ArgumentParser(" in text  # code samples are part of the text
    assert "¶" not in text
    assert "Copyright" not in text and "Quick search" not in text  # footer and search box are not


def test_metadata_prefers_open_graph_and_resolves_urls():
    html = """<html lang="en-GB"><head><title>Fallback title | Blog</title>
    <meta property="og:title" content="The real title"><meta name="twitter:title" content="Tweet title">
    <meta name="description" content="Plain description"><meta name="twitter:description" content="Tw desc">
    <meta property="og:site_name" content="The Blog"><meta property="og:image" content="/img/cover.jpg">
    <meta property="article:published_time" content="2024-03-05T10:00:00Z">
    <meta name="author" content="Jane Doe">
    <link rel="canonical" href="/posts/1?ref=x"><link rel="shortcut icon" href="//cdn.blog.example/fav.png">
    </head><body><p>x</p></body></html>"""
    assert extract_metadata(html, "https://blog.example/posts/1") == PageMetadata(
        title="The real title",
        description="Tw desc",
        language="en",
        canonical_url="https://blog.example/posts/1?ref=x",
        favicon_url="https://cdn.blog.example/fav.png",
        preview_image_url="https://blog.example/img/cover.jpg",
        site_name="The Blog",
        author="Jane Doe",
        published="2024-03-05T10:00:00Z",
    )


def test_metadata_falls_back_to_title_description_and_origin_favicon():
    html = """<html lang="pt_BR"><head><title>  Só o
    título </title><meta name="description" content="A descrição"><link rel="canonical" href="file:///x.html">
    <link rel="icon" href="data:image/png;base64,AAAA"></head><body></body></html>"""
    meta = extract_metadata(html, "https://site.example:8443/a/b")
    assert meta.title == "Só o título" and meta.description == "A descrição" and meta.language == "pt"
    assert meta.canonical_url == ""  # only http(s) URLs are kept
    assert meta.favicon_url == "https://site.example:8443/favicon.ico"
    assert meta.preview_image_url == meta.site_name == meta.author == meta.published == ""


def test_metadata_reads_json_ld_byline_and_date():
    html = """<html><head><title>Post</title><script type="application/ld+json">
    {"@context": "https://schema.org", "@type": "NewsArticle", "headline": "Post",
     "datePublished": "2023-11-02T08:00:00+01:00", "author": {"@type": "Person", "name": "Ann Lee"},
     "publisher": {"@type": "Organization", "name": "ACME News"}}</script></head><body></body></html>"""
    meta = extract_metadata(html, "https://news.example/2020/01/01/post")
    assert meta.author == "Ann Lee" and meta.site_name == "ACME News"
    assert meta.published == "2023-11-02T08:00:00+01:00"  # not the date in the URL


@pytest.mark.parametrize(
    ("lang", "expected"), [("EN-us", "en"), ("de", "de"), ("zh-Hant-TW", "zh"), ("", ""), ("english", "")]
)
def test_language_is_the_primary_subtag(lang, expected):
    html = f'<html lang="{lang}"><head><title>t</title></head><body></body></html>'
    assert extract_metadata(html, "https://x.example/").language == expected


def test_metadata_of_an_empty_document():
    assert extract_metadata("", "https://x.example/") == PageMetadata()


@needs_docs
def test_metadata_of_a_python_docs_page():
    meta = extract_metadata(
        (DOCS / "tutorial/introduction.html").read_text(),
        "https://docs.python.org/3.11/tutorial/introduction.html",
    )
    assert meta.title == "3. An Informal Introduction to Python — Python 3.11.2 documentation"
    assert meta.language == "en"
    assert meta.favicon_url == "https://docs.python.org/3.11/_static/py.svg"
    assert meta.canonical_url == ""  # Debian's copy points at file:///usr/share/doc/…
    assert meta.site_name == ""  # not "3. An Informal Introduction to Python", a half of the title


@pytest.mark.parametrize("data", [b"", b"not a pdf at all", b"%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF"])
def test_pdf_text_never_raises_on_broken_files(data):
    text, meta = pdf_text(data)
    assert text == "" and meta["error"]


@pytest.mark.skipif(not DEBIAN_PDF.exists(), reason="libtasn1-doc is not installed")
def test_pdf_text_of_a_real_manual_stops_at_max_pages():
    data = DEBIAN_PDF.read_bytes()
    text, meta = pdf_text(data, max_pages=3)
    assert text.startswith("Libtasn1\nAbstract Syntax Notation One (ASN.1) library")
    assert meta["pages"] > 3 and meta["truncated_at"] == 3
    truncated_text, truncated_meta = pdf_text(data[: len(data) // 2])
    assert truncated_text == "" and "error" in truncated_meta


@pytest.mark.browser
def test_pdf_text_of_a_pdf_printed_by_chromium(playwright_session):

    executable = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
    html = """<html><head><title>Printed report</title></head><body><h1>Quarterly report</h1>
    <p>Revenue grew in every region.</p><p style="break-before: page">Second page text.</p></body></html>"""
    with nullcontext(playwright_session) as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=args)
        try:
            page = browser.new_page()
            page.set_content(html)
            data = page.pdf(format="A4")
        finally:
            browser.close()
    text, meta = pdf_text(data)
    assert meta["pages"] == 2 and meta["title"] == "Printed report"
    assert "Quarterly report\nRevenue grew in every region." in text and "Second page text." in text
    first_page_only, meta = pdf_text(data, max_pages=1)
    assert "Second page text." not in first_page_only and meta["truncated_at"] == 1
