"""Readable text and metadata of a captured page, and the text of a PDF.

Text comes from trafilatura's main-content extraction; when it finds nothing (a landing page,
an app shell, a bot wall) the whole visible text stands in, because the quality checks and the
search index need *something* that reflects what the page showed.
"""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from urllib.parse import urljoin, urlsplit

import lxml.html
import pypdf
import trafilatura
from lxml import etree

from .capture import PageMetadata

logger = logging.getLogger(__name__)

# Elements whose whitespace is content; everywhere else a newline in the source is a space.
_PREFORMATTED = ("pre", "textarea", "listing", "plaintext", "xmp")
_INVISIBLE = {"script", "style", "noscript", "template", "head", "title", "svg", "math", "iframe",
              "object", "nav", "footer", "select"}  # fmt: skip
_BLOCKS = {"address", "article", "aside", "blockquote", "br", "dd", "details", "dialog", "div", "dl",
           "dt", "fieldset", "figcaption", "figure", "form", "h1", "h2", "h3", "h4", "h5", "h6",
           "header", "hr", "li", "main", "ol", "p", "pre", "section", "summary", "table", "tr", "td",
           "th", "ul", "caption", "tbody", "thead", "tfoot", "body", "html", "center", "legend"}  # fmt: skip
# hidden="until-found" is collapsed content that the browser's find still reaches: it is text.
_HIDDEN = etree.XPath("descendant::*[@hidden and not(@hidden='until-found')]")
_SPACE_RUN = re.compile(r"[^\S\n]+")
_SOURCE_WHITESPACE = re.compile(r"\s+")
_BLANK_LINES = re.compile(r"\n{3,}")
_INVISIBLE_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200d\u2060\ufeff]")
_TRAILING_ANCHOR = re.compile(r"[ \t]*¶$")  # Sphinx/MkDocs permalink markers after headings
_PRIMARY_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
_JSON_LD_DATE = re.compile(r'"datePublished"\s*:\s*"([^"]{4,40})"')
_TITLE_META = ("og:title", "twitter:title")
_DESCRIPTION_META = ("og:description", "twitter:description", "description")
_IMAGE_META = ("og:image", "og:image:url", "og:image:secure_url", "twitter:image", "twitter:image:src")
_SITE_META = ("og:site_name", "application-name")
_AUTHOR_META = ("author", "article:author", "dc.creator", "citation_author", "parsely-author")
_PUBLISHED_META = ("article:published_time", "og:article:published_time", "datepublished",
                   "date", "dc.date", "dc.date.issued", "dcterms.created", "dcterms.issued",
                   "citation_publication_date", "publish-date", "pubdate", "parsely-pub-date",
                   "sailthru.date")  # fmt: skip


def normalise_text(text: str) -> str:
    """One space between words, paragraphs on their own lines, at most one blank line in a row.

    Leading indentation stays, so code blocks keep their shape.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE_CHARS.sub("", unicodedata.normalize("NFC", text))
    lines = []
    for line in text.split("\n"):
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)].replace("\t", "    ").replace("\xa0", " ")
        body = _TRAILING_ANCHOR.sub("", _SPACE_RUN.sub(" ", stripped).rstrip())
        lines.append(f"{indent}{body}" if body else "")
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n")


def _parse(html: str) -> lxml.html.HtmlElement | None:
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True, huge_tree=True)
    try:
        return lxml.html.document_fromstring(html.encode("utf-8", "replace"), parser=parser)
    except etree.ParserError:  # empty or whitespace-only document
        return None


def _collapse_source_whitespace(doc: lxml.html.HtmlElement) -> None:
    """Make source line wrapping into spaces, so that a newline in the output means a new block."""
    preformatted = {el for pre in doc.iter(*_PREFORMATTED) for el in pre.iter()}
    for el in doc.iter():
        if el.text and el not in preformatted:
            el.text = _SOURCE_WHITESPACE.sub(" ", el.text)
        if el.tail and el.getparent() not in preformatted:
            el.tail = _SOURCE_WHITESPACE.sub(" ", el.tail)


def extract_text(html: str, url: str) -> str:
    """The page's readable main text, or all of its visible text when no main text is found."""
    doc = _parse(html)
    if doc is None:
        return ""
    _prepare(doc)
    main = trafilatura.extract(
        doc,
        url=url,
        include_comments=False,
        include_tables=True,
        favor_recall=True,  # docs pages lose code samples and lists with the default balance
        output_format="txt",
    )
    text = normalise_text(main or "")
    if text:
        return text
    fallback = _parse(html)  # trafilatura prunes the tree it is given
    if fallback is None:
        return ""
    _prepare(fallback)
    return normalise_text(visible_text(fallback))


def _prepare(doc: lxml.html.HtmlElement) -> None:
    """Drop what the rendered page did not show, and make source line wrapping into spaces.

    The DOM was built with JavaScript on, so <noscript> text ("You need to enable JavaScript")
    was never visible; trafilatura would keep it.
    """
    etree.strip_elements(doc, "noscript", "template", with_tail=False)
    for el in _HIDDEN(doc):
        el.drop_tree()
    _collapse_source_whitespace(doc)


def visible_text(doc: lxml.html.HtmlElement) -> str:
    """The text of <body> a reader would see, block elements on their own lines."""
    body = doc.find("body")
    root = body if body is not None else doc
    parts: list[str] = []
    walker = etree.iterwalk(root, events=("start", "end"))
    for event, el in walker:
        tag = el.tag if isinstance(el.tag, str) else ""
        if event == "start":
            if tag in _INVISIBLE or el.get("hidden") is not None or el.get("aria-hidden") == "true":
                walker.skip_subtree()  # its "end" event still comes, and adds the tail
                continue
            if tag in _BLOCKS:
                parts.append("\n")
            parts.append(el.text or "")
        else:
            if tag in _BLOCKS:
                parts.append("\n")
            if el is not root:
                parts.append(el.tail or "")
    return "".join(parts)


def _absolute_http(value: str, base: str) -> str:
    url = urljoin(base, value.strip()) if value and value.strip() else ""
    return url if urlsplit(url).scheme in ("http", "https") else ""


def _meta_values(doc: lxml.html.HtmlElement) -> dict[str, str]:
    """The first non-empty content of each <meta name|property|itemprop>, keys lowercased."""
    found: dict[str, str] = {}
    for meta in doc.iter("meta"):
        content = _SOURCE_WHITESPACE.sub(" ", meta.get("content") or "").strip()
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").strip().lower()
        if key and content and key not in found:
            found[key] = content
    return found


def _first(values: dict[str, str], keys: tuple[str, ...]) -> str:
    return next((values[key] for key in keys if values.get(key)), "")


def _language(doc: lxml.html.HtmlElement, metas: dict[str, str]) -> str:
    """The primary language subtag ("en" for "en-GB"), from <html lang> first."""
    candidates = [doc.get("lang") or "", doc.get("xml:lang") or ""]
    candidates += [el.get("content") or "" for el in doc.iter("meta") if _is_content_language(el)]
    candidates.append(metas.get("og:locale", ""))
    for candidate in candidates:
        primary = re.split(r"[-_,;\s]", candidate.strip().lower(), maxsplit=1)[0]
        if _PRIMARY_LANGUAGE.match(primary):
            return primary
    return ""


def _is_content_language(el: lxml.html.HtmlElement) -> bool:
    return (el.get("http-equiv") or "").lower() == "content-language"


def _link_href(doc: lxml.html.HtmlElement, rel: str, base: str) -> str:
    for link in doc.iter("link"):
        if rel in (link.get("rel") or "").lower().split():
            url = _absolute_http(link.get("href") or "", base)
            if url:
                return url
    return ""


def _published(doc: lxml.html.HtmlElement, metas: dict[str, str]) -> str:
    if value := _first(metas, _PUBLISHED_META):
        return value
    for script in doc.iter("script"):
        if (script.get("type") or "").lower() == "application/ld+json" and script.text:
            if found := _JSON_LD_DATE.search(script.text):
                return found.group(1)
    for time_el in doc.iter("time"):
        if time_el.get("itemprop") == "datePublished" or time_el.get("pubdate") is not None:
            return (time_el.get("datetime") or time_el.text_content()).strip()
    return ""


def _head_only(doc: lxml.html.HtmlElement) -> str:
    """The <meta> tags and JSON-LD blocks: all trafilatura needs for author and site name.

    On the whole page its byline heuristics and date search cost a few hundred milliseconds on
    a long docs page; here they cost one or two. The <title> stays out: trafilatura would guess
    a site name by splitting it, and picks the wrong half of "Chapter — Site" titles.
    """
    keep = [el for el in doc.iter("meta")]
    keep += [el for el in doc.iter("script") if (el.get("type") or "").lower() == "application/ld+json"]
    parts = "".join(lxml.html.tostring(el, encoding="unicode", with_tail=False) for el in keep)
    return f"<html><head>{parts}</head><body></body></html>"


def _site_name_from(candidate: str, url: str) -> str:
    """trafilatura falls back to the host name; that is not a site name we know."""
    netloc = urlsplit(url).netloc.lower().removeprefix("www.")  # the host, with any port
    return "" if not candidate or candidate.lower().removeprefix("www.") in netloc else candidate


def extract_metadata(html: str, url: str) -> PageMetadata:
    """Title, description, language, links and byline of a page; "" for what it does not say."""
    doc = _parse(html)
    if doc is None:
        return PageMetadata()
    metas = _meta_values(doc)
    fallback = trafilatura.extract_metadata(_head_only(doc), default_url=url, extensive=False)
    title_el = doc.find(".//title")
    page_title = _SOURCE_WHITESPACE.sub(" ", title_el.text_content()).strip() if title_el is not None else ""
    author = _first(metas, _AUTHOR_META)
    if author.startswith(("http://", "https://")):  # article:author is often a profile URL
        author = ""
    origin = urlsplit(url)
    favicon = _link_href(doc, "icon", url)
    if not favicon and origin.scheme in ("http", "https") and origin.netloc:
        favicon = f"{origin.scheme}://{origin.netloc}/favicon.ico"
    return PageMetadata(
        title=_first(metas, _TITLE_META) or page_title or (fallback.title or ""),
        description=_first(metas, _DESCRIPTION_META),
        language=_language(doc, metas),
        canonical_url=_link_href(doc, "canonical", url),
        favicon_url=favicon,
        preview_image_url=next(
            (img for key in _IMAGE_META if (img := _absolute_http(metas.get(key, ""), url))), ""
        ),
        site_name=_first(metas, _SITE_META) or _site_name_from(fallback.sitename or "", url),
        author=author or (fallback.author or ""),
        published=_published(doc, metas) or (fallback.date or ""),
    )


def pdf_text(data: bytes, max_pages: int = 200) -> tuple[str, dict]:
    """The text and basic metadata of a PDF. A broken PDF gives ("", {"error": ...}), never raises."""
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            reader.decrypt("")  # many "encrypted" PDFs only restrict printing, with an empty password
        total = len(reader.pages)
        pages = [_page_text(reader, number) for number in range(min(total, max_pages))]
        info = reader.metadata
        meta = {
            "title": _clean_info(info.title if info else None),
            "author": _clean_info(info.author if info else None),
            "pages": total,
        }
    except Exception as exc:  # pypdf raises many types on malformed files; the caller records the reason
        logger.info("pdf_text: unreadable PDF (%s bytes): %s", len(data), exc)
        return "", {"error": f"{type(exc).__name__}: {exc}"[:500]}
    if total > max_pages:
        meta["truncated_at"] = max_pages
    return normalise_text("\n\n".join(page for page in pages if page)), meta


def _page_text(reader: pypdf.PdfReader, number: int) -> str:
    try:
        return reader.pages[number].extract_text() or ""
    except Exception as exc:  # one bad page (broken font, bad stream) should not lose the rest
        logger.info("pdf_text: page %s unreadable: %s", number + 1, exc)
        return ""


def _clean_info(value: object) -> str:
    return normalise_text(str(value)) if value else ""
