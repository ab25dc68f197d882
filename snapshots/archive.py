"""Turn a rendered page into one self-contained HTML file that opens offline and runs nothing.

The renderer hands over the live DOM (after scripts built the page) and every subresource the
browser loaded. Stylesheets become ``<style>`` blocks, images, fonts and media become ``data:``
URIs, and everything that could run or fetch is removed. A CSP meta pins the result, so a browser
opening the file from disk loads nothing from the network even where a reference slipped through.

Choices worth knowing:

* ``<noscript>`` is dropped with its content: the DOM was built with JavaScript on, so what the
  page showed is already in the DOM; noscript content would duplicate it (lazy-load fallbacks).
* ``srcset``: the best *captured* candidate (highest density or width) becomes ``src`` and
  ``srcset``/``sizes`` go, so the archive shows what the browser actually downloaded. In
  ``<picture>`` the ``<source>`` elements go too once the ``<img>`` holds a captured candidate.
* Frames cannot be archived from the main frame's DOM, so an ``<iframe>`` becomes a dashed box
  linking to its ``src``; ``<object>``/``<embed>`` showing an image become ``<img>``, otherwise
  they go (an object's fallback content stays).
* Resources that were not captured keep their absolute URL; nothing is fetched here.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urldefrag

import lxml.html
from lxml import etree
from w3lib.url import safe_url_string

from snapshots.archive_css import CssRewriter, is_http, resolve_url

CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline' data:; font-src data:; "
    "media-src data:; form-action 'none'"
)
# Hints and links that make a browser fetch something we do not archive.
_FETCHING_RELS = {"preload", "modulepreload", "prefetch", "prerender", "preconnect", "dns-prefetch",
                  "manifest", "import", "serviceworker"}  # fmt: skip
_ICON_RELS = {"icon", "apple-touch-icon", "apple-touch-icon-precomposed", "mask-icon"}
# Attributes whose value a browser may treat as a URL (SVG animation attributes included,
# because <set to="javascript:..."> can rewrite an href).
_URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background",
              "cite", "longdesc", "lowsrc", "dynsrc", "to", "from", "values", "by"}  # fmt: skip
# Submitting, pinging and app-cache attributes, by the elements that carry them.
_DROPPED_ATTRS = {"form": ("action",), "button": ("formaction",), "input": ("formaction",),
                  "a": ("ping",), "area": ("ping",), "html": ("manifest",)}  # fmt: skip
_HTML5_VOID_ELEMENTS = ("source", "track", "wbr", "embed", "keygen")
_SUSPECT_ATTRIBUTES = etree.XPath("descendant-or-self::*/@*[starts-with(name(), 'on') or contains(., ':')]")
_STYLED_ELEMENTS = etree.XPath("descendant::*[@style]")
_LAZY_SRC_ATTRS = ("data-src", "data-lazy-src", "data-original")
_CONTROL_AND_SPACE = re.compile(r"[\x00-\x20]+")
_DENSITY = re.compile(r"([0-9.]+)\s*([wx])", re.I)
_SRCSET_URL = re.compile(r"[\s,]*(\S+)")
_GENERIC_TYPES = {"", "application/octet-stream", "binary/octet-stream", "text/plain",
                  "application/x-unknown", "application/unknown"}  # fmt: skip
_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF8", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
    (b"ftypavif", 4, "image/avif"),
    (b"ftypavis", 4, "image/avif"),
    (b"ftyp", 4, "video/mp4"),
    (b"\x1aE\xdf\xa3", 0, "video/webm"),
    (b"OggS", 0, "audio/ogg"),
    (b"ID3", 0, "audio/mpeg"),
    (b"\x00\x00\x01\x00", 0, "image/x-icon"),
    (b"BM", 0, "image/bmp"),
    (b"wOF2", 0, "font/woff2"),
    (b"wOFF", 0, "font/woff"),
    (b"OTTO", 0, "font/otf"),
    (b"\x00\x01\x00\x00", 0, "font/ttf"),
    (b"true", 0, "font/ttf"),
)


@dataclass
class Resource:
    content_type: str
    body: bytes


@dataclass
class ArchiveResult:
    html: str
    inlined: int
    missing: list[str] = field(default_factory=list)
    skipped_large: list[str] = field(default_factory=list)


def sniff_type(body: bytes) -> str:
    """The media type the bytes announce themselves, or "" when they carry no known magic."""
    for magic, offset, media_type in _MAGIC:
        if body.startswith(magic, offset):
            return media_type
    return ""


def _is_javascript(value: str) -> bool:
    scheme = _CONTROL_AND_SPACE.sub("", value)[:11].lower()
    return scheme.startswith(("javascript:", "vbscript:"))


class Inliner:
    """Finds captured resources and turns them into data: URIs within the byte budget."""

    def __init__(self, resources: Mapping[str, Resource], max_resource_bytes: int, max_total_bytes: int):
        self._exact = {urldefrag(url).url: res for url, res in resources.items()}
        self._normalised: dict[str, Resource] | None = None
        self._max_resource = max_resource_bytes
        self._budget_left = max_total_bytes
        self._data_uris: dict[str, str] = {}
        self.inlined: set[str] = set()
        self.missing: dict[str, None] = {}  # dicts as ordered sets: report in page order
        self.skipped_large: dict[str, None] = {}

    def find(self, url: str) -> Resource | None:
        key = urldefrag(url).url
        found = self._exact.get(key)
        if found is None and is_http(key):
            # The DOM may hold "a b.png" or a unicode host where the browser requested the
            # percent-encoded, punycoded form; build that index only when a lookup misses.
            if self._normalised is None:
                self._normalised = {safe_url_string(k): v for k, v in self._exact.items() if is_http(k)}
            found = self._normalised.get(safe_url_string(key))
        return found

    def take(self, url: str, resource: Resource) -> bool:
        """Charge a resource against the caps; False (and recorded) when it does not fit."""
        size = len(resource.body)
        if size > self._max_resource or size > self._budget_left:
            self.skipped_large[url] = None
            return False
        self._budget_left -= size
        self.inlined.add(urldefrag(url).url)
        return True

    def note_missing(self, url: str) -> None:
        if is_http(url):
            self.missing[url] = None

    def data_uri(self, url: str) -> str | None:
        """A data: URI for a captured resource, or None (recorded as missing or too large)."""
        if not is_http(url):
            return None
        resource = self.find(url)
        media_type = _media_type(url, resource) if resource is not None else ""
        if resource is None or media_type == "text/html":  # an error page served for an image
            self.note_missing(url)
            return None
        key, fragment = urldefrag(url)
        encoded = self._data_uris.get(key)
        if encoded is None:
            if not self.take(url, resource):
                return None
            encoded = f"data:{media_type};base64,{base64.b64encode(resource.body).decode('ascii')}"
            self._data_uris[key] = encoded
        elif not self.take(url, resource):  # every copy lands in the file, so every copy counts
            return None
        return f"{encoded}#{fragment}" if fragment else encoded


def _media_type(url: str, resource: Resource) -> str:
    sniffed = sniff_type(resource.body)
    if sniffed:
        return sniffed
    declared = resource.content_type.split(";", 1)[0].strip().lower()
    if declared not in _GENERIC_TYPES:
        return declared
    head = resource.body[:1024].lstrip()
    if head.startswith(b"<") and b"<svg" in head:
        return "image/svg+xml"
    guessed, _ = mimetypes.guess_type(urldefrag(url).url.split("?", 1)[0])
    return guessed or "application/octet-stream"


def build_archive(
    *,
    dom_html: str,
    base_url: str,
    resources: Mapping[str, Resource],
    max_resource_bytes: int = 5_000_000,
    max_total_bytes: int = 50_000_000,
    captured_at: str = "",
) -> ArchiveResult:
    """Build the offline archive of a rendered page from its DOM and captured subresources."""
    doc = _parse(dom_html)
    base = _document_base(doc, base_url)
    inliner = Inliner(resources, max_resource_bytes, max_total_bytes)
    css = CssRewriter(inliner)
    _remove_active_content(doc, base, inliner)
    _strip_dangerous_attributes(doc)
    # Stylesheets first: when the budget runs out, the layout matters more than the last image.
    _inline_stylesheets(doc, base, css)
    _inline_images_and_media(doc, base, inliner)
    _absolutise_links(doc, base)
    _add_archive_head(doc, base_url, captured_at)
    html = lxml.html.tostring(doc, encoding="unicode", doctype="<!DOCTYPE html>")
    return ArchiveResult(
        html=html,
        inlined=len(inliner.inlined),
        missing=list(inliner.missing),
        skipped_large=list(inliner.skipped_large),
    )


def _parse(dom_html: str) -> lxml.html.HtmlElement:
    # Bytes with an explicit encoding, so a <meta charset> or an XML declaration in the
    # serialised DOM cannot make libxml2 re-decode text the browser already decoded.
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True, huge_tree=True)
    try:
        doc = lxml.html.document_fromstring(dom_html.encode("utf-8", "replace"), parser=parser)
    except etree.ParserError:  # empty document
        return lxml.html.document_fromstring(b"<html><head></head><body></body></html>", parser=parser)
    _unnest_void_elements(doc)
    return doc


def _unnest_void_elements(doc: lxml.html.HtmlElement) -> None:
    """libxml2 does not know HTML5's newer void elements and nests what follows inside them.

    ``<source><img>`` would put the <img> inside the <source>, so that dropping a <source>
    drops the image too; move such content back to where the browser has it, after the element.
    """
    for el in list(doc.iter(*_HTML5_VOID_ELEMENTS)):
        parent = el.getparent()
        if parent is None or (len(el) == 0 and not el.text):
            continue
        index, children, tail = parent.index(el), list(el), el.tail
        el.tail, el.text = el.text, None
        for offset, child in enumerate(children, start=1):
            parent.insert(index + offset, child)  # the child's own tail moves with it
        last = parent[index + len(children)]
        last.tail = ((last.tail or "") + (tail or "")) or None


def _document_base(doc: lxml.html.HtmlElement, base_url: str) -> str:
    """The URL relative references resolve against: the first <base href>, as browsers do."""
    for base in doc.iter("base"):
        href = base.get("href")
        if href is not None:
            resolved = resolve_url(href, base_url)
            if is_http(resolved):
                return resolved
            break
    return base_url


def _remove_active_content(doc: lxml.html.HtmlElement, base: str, inliner: Inliner) -> None:
    for el in list(doc.iter("script", "noscript", "base", "meta", "link", "applet", "portal")):
        if el.tag == "meta" and not _is_pragma_meta(el):
            continue  # ordinary metadata (description, og:*) stays
        if el.tag == "link" and not _rels(el) & _FETCHING_RELS:
            continue
        el.drop_tree()
    # A fresh query: frames inside removed <noscript> blocks are gone and must not be inlined.
    for el in list(doc.iter("iframe", "frame", "object", "embed", "frameset")):
        if el.tag == "frameset":
            el.tag = "div"
        elif el.tag in ("iframe", "frame"):
            _replace_frame(el, base)
        else:
            _replace_plugin(el, base, inliner)


def _is_pragma_meta(el: lxml.html.HtmlElement) -> bool:
    """Refresh, the page's own CSP and charset go; we write our own, and a stale archive meta goes."""
    return (
        el.get("http-equiv") is not None
        or el.get("charset") is not None
        or el.get("name") == "linkhub-archive"
    )


def _replace_frame(el: lxml.html.HtmlElement, base: str) -> None:
    src = resolve_url(el.get("src", ""), base)
    if not is_http(src):  # about:blank ad slots and srcdoc widgets: nothing to point at
        el.drop_tree()
        return
    box = ["display:inline-flex", "align-items:center", "justify-content:center", "box-sizing:border-box",
           "max-width:100%", "padding:4px", "border:1px dashed #999", "font:13px sans-serif"]  # fmt: skip
    for dimension in ("width", "height"):
        value = (el.get(dimension) or "").strip()
        if value.isdigit():
            box.append(f"{dimension}:{value}px")
        elif value.endswith("%") and value[:-1].isdigit():
            box.append(f"{dimension}:{value}")
    link = lxml.html.Element("a", {"href": src, "class": "linkhub-frame", "style": ";".join(box)})
    link.text = f"Embedded content: {src}"
    _replace(el, link)


def _replace_plugin(el: lxml.html.HtmlElement, base: str, inliner: Inliner) -> None:
    """<object>/<embed> showing an image (typically SVG) becomes an <img>; plugins go."""
    src = resolve_url(el.get("data") or el.get("src") or "", base)
    resource = inliner.find(src) if is_http(src) else None
    if resource is not None and _media_type(src, resource).startswith("image/"):
        uri = inliner.data_uri(src)
        if uri is not None:
            attrs = {k: v for k in ("width", "height", "class", "id") if (v := el.get(k)) is not None}
            _replace(el, lxml.html.Element("img", {**attrs, "src": uri}))
            return
    for param in el.findall("param"):
        param.drop_tree()
    el.drop_tag()  # an <object>'s children are its fallback content, shown once the plugin is gone


def _replace(old: lxml.html.HtmlElement, new: lxml.html.HtmlElement) -> None:
    new.tail = old.tail
    old.getparent().replace(old, new)


def _strip_dangerous_attributes(doc: lxml.html.HtmlElement) -> None:
    # One XPath pass in C narrows the attributes down; a javascript: URL always has a colon.
    for attr in _SUSPECT_ATTRIBUTES(doc):
        name = attr.attrname
        if name.startswith("on") or (name in _URL_ATTRS and _is_javascript(str(attr))):
            attr.getparent().attrib.pop(name, None)
    for el in doc.iter(*_DROPPED_ATTRS):
        for name in _DROPPED_ATTRS[el.tag]:
            el.attrib.pop(name, None)


def _rels(el: lxml.html.HtmlElement) -> set[str]:
    return set((el.get("rel") or "").lower().split())


def _inline_stylesheets(doc: lxml.html.HtmlElement, base: str, css: CssRewriter) -> None:
    for el in list(doc.iter("link", "style")):
        if el.tag == "style":
            if el.text:
                el.text = css.rewrite(el.text, base)
            continue
        rels = _rels(el)
        if "stylesheet" not in rels or "alternate" in rels or el.get("disabled") is not None:
            continue
        href = resolve_url(el.get("href", ""), base)
        text = css.stylesheet(href) if is_http(href) else None
        if text is None:
            if href:
                el.set("href", href)
            continue
        style = lxml.html.Element("style")
        media = (el.get("media") or "").strip()
        if media and media.lower() != "all":
            style.set("media", media)
        style.text = text
        _replace(el, style)
    for el in _STYLED_ELEMENTS(doc):
        value = el.get("style", "")
        if "url(" in value.lower():
            el.set("style", css.rewrite(value, base, allow_imports=False))


def _inline_images_and_media(doc: lxml.html.HtmlElement, base: str, inliner: Inliner) -> None:
    for el in list(doc.iter("picture", "img", "input", "video", "audio", "source", "track", "image",
                            "feimage", "link", "body", "table", "td", "th")):  # fmt: skip
        tag = el.tag
        if tag == "picture":
            _inline_picture(el, base, inliner)
        elif tag == "img":
            parent = el.getparent()
            if parent is None or parent.tag != "picture":
                _inline_img(el, [], base, inliner)
        elif tag == "input":
            if (el.get("type") or "").lower() == "image":
                _inline_attr(el, "src", base, inliner)
        elif tag in ("video", "audio"):
            _inline_attr(el, "poster", base, inliner)
            _inline_attr(el, "src", base, inliner)
        elif tag in ("source", "track"):
            parent = el.getparent()
            if parent is not None and parent.tag in ("video", "audio"):
                _inline_attr(el, "src", base, inliner)
        elif tag in ("image", "feimage"):
            _inline_attr(el, "href", base, inliner)
            _inline_attr(el, "xlink:href", base, inliner)
        elif tag == "link":
            if _rels(el) & _ICON_RELS:
                _inline_attr(el, "href", base, inliner)
        else:
            _inline_attr(el, "background", base, inliner)


def _inline_attr(el: lxml.html.HtmlElement, name: str, base: str, inliner: Inliner) -> None:
    raw = el.get(name)
    if raw is None or raw.lstrip()[:5].lower() == "data:":
        return
    url = resolve_url(raw, base)
    if not url:
        return
    el.set(name, inliner.data_uri(url) or url)


def split_srcset(value: str) -> list[tuple[str, str]]:
    """``(url, descriptor)`` pairs, split as the spec does: a URL may itself contain commas."""
    pairs: list[tuple[str, str]] = []
    pos = 0
    while (match := _SRCSET_URL.match(value, pos)) is not None:
        url, pos = match.group(1), match.end()
        descriptor = ""
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            end = value.find(",", pos)
            end = len(value) if end == -1 else end
            descriptor, pos = value[pos:end].strip(), end + 1
        pairs.append((url, descriptor))
    return pairs


def parse_srcset(value: str) -> list[tuple[str, float]]:
    """``(url, density-or-width)`` pairs; a candidate without a descriptor counts as 1x."""
    sized = []
    for url, descriptor in split_srcset(value):
        found = _DENSITY.search(descriptor)
        sized.append((url, float(found.group(1)) if found else 1.0))
    return sized


def _img_candidates(el: lxml.html.HtmlElement, base: str) -> list[tuple[str, float]]:
    raw: list[tuple[str, float]] = []
    for attr in ("srcset", "data-srcset"):
        raw.extend(parse_srcset(el.get(attr) or ""))
    # Lazy loaders keep the real image in data-* until it scrolls into view.
    for attr in ("src", *_LAZY_SRC_ATTRS):
        if el.get(attr):
            raw.append((el.get(attr, ""), 1.0))
    resolved = ((resolve_url(url, base), size) for url, size in raw)
    return [(url, size) for url, size in resolved if is_http(url)]


def _inline_picture(picture: lxml.html.HtmlElement, base: str, inliner: Inliner) -> None:
    img = picture.find("img")
    if img is None:
        return
    sources = picture.findall("source")
    candidates = [c for source in sources for c in _img_candidates(source, base)]
    if _inline_img(img, candidates, base, inliner):
        for source in sources:  # a matching <source> would override the inlined <img src>
            source.drop_tree()
    else:
        for source in sources:
            _absolutise_srcset(source, base)


def _inline_img(
    el: lxml.html.HtmlElement, extra: list[tuple[str, float]], base: str, inliner: Inliner
) -> bool:
    """Put the best captured candidate in ``src``; True when the image is now offline."""
    candidates = _img_candidates(el, base) + extra
    captured = sorted((c for c in candidates if inliner.find(c[0]) is not None), key=lambda c: -c[1])
    for url, _ in captured:
        uri = inliner.data_uri(url)
        if uri is not None:
            el.set("src", uri)
            for attr in ("srcset", "sizes", "data-srcset"):
                el.attrib.pop(attr, None)
            return True
    src = resolve_url(el.get("src", ""), base)
    if is_http(src):
        el.set("src", src)
    if not captured and candidates:
        # Report what the page displayed: its src, else the first srcset candidate.
        inliner.note_missing(src if is_http(src) else candidates[0][0])
    _absolutise_srcset(el, base)
    return False


def _absolutise_srcset(el: lxml.html.HtmlElement, base: str) -> None:
    value = el.get("srcset")
    if value:
        parts = (f"{resolve_url(url, base)} {descriptor}".strip() for url, descriptor in split_srcset(value))
        el.set("srcset", ", ".join(parts))


def _absolutise_links(doc: lxml.html.HtmlElement, base: str) -> None:
    """Links keep working online; in-page anchors stay relative so they still scroll."""
    for el in doc.iter("a", "area", "link"):
        href = el.get("href")
        if href is None or href.startswith("#") or href.lstrip()[:5].lower() == "data:":
            continue
        url = resolve_url(href, base)
        if url:
            el.set("href", url)


def _add_archive_head(doc: lxml.html.HtmlElement, source_url: str, captured_at: str) -> None:
    head = doc.find("head")
    if head is None:
        head = lxml.html.Element("head")
        doc.insert(0, head)
    description = f"{source_url}, captured {captured_at}" if captured_at else source_url
    metas = [
        {"charset": "utf-8"},
        {"http-equiv": "Content-Security-Policy", "content": CSP},
        {"name": "linkhub-archive", "content": description},
    ]
    # First in <head>: the charset must come early and the CSP only covers what follows it.
    for index, attrs in enumerate(metas):
        head.insert(index, lxml.html.Element("meta", attrs))
