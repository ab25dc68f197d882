"""The offline archive: inlining, resolution, safety and byte caps, plus one real-Chromium check."""

from __future__ import annotations

import base64
import io
import os
import re
import time
from contextlib import nullcontext
from pathlib import Path

import lxml.html
import pytest
from PIL import Image

from snapshots.archive import CSP, ArchiveResult, Resource, build_archive, parse_srcset, sniff_type

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API in a test thread

PAGE = "https://example.com/docs/page.html"
DOCS = Path("/usr/share/doc/python3.11/html")
FIXTURES = Path(__file__).parent / "fixtures"


def png(color: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (8, 8)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def data_uri(media_type: str, body: bytes) -> str:
    return f"data:{media_type};base64,{base64.b64encode(body).decode()}"


def build(html: str, resources: dict[str, Resource] | None = None, **kwargs) -> ArchiveResult:
    return build_archive(dom_html=html, base_url=PAGE, resources=resources or {}, **kwargs)


def tree(result: ArchiveResult) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(result.html)


def test_stylesheet_is_inlined_with_urls_relative_to_the_stylesheet():
    css = b"body { background: url('../img/bg.png') } .logo { background-image: url(logo.png) }"
    resources = {
        "https://example.com/static/css/site.css": Resource("text/css; charset=utf-8", css),
        "https://example.com/static/img/bg.png": Resource("image/png", png()),
        "https://example.com/static/css/logo.png": Resource("image/png", png((0, 0, 255))),
    }
    html = '<html><head><link rel="stylesheet" href="/static/css/site.css" media="screen"></head></html>'
    result = build(html, resources)
    style = tree(result).find(".//style")
    assert style is not None and style.get("media") == "screen"
    assert data_uri("image/png", png()) in style.text
    assert data_uri("image/png", png((0, 0, 255))) in style.text
    assert tree(result).find(".//link[@rel='stylesheet']") is None
    assert result.inlined == 3 and result.missing == []


def test_import_is_inlined_recursively_with_its_media_and_a_cycle_guard():
    resources = {
        "https://example.com/a.css": Resource(
            "text/css", b'@import url("sub/b.css") print; .a { color: red }'
        ),
        "https://example.com/sub/b.css": Resource(
            "text/css", b"@import '../a.css'; .b { background: url(x.png) }"
        ),
        "https://example.com/sub/x.png": Resource("image/png", png()),
    }
    html = '<html><head><link rel="stylesheet" href="https://example.com/a.css"></head></html>'
    text = tree(build(html, resources)).find(".//style").text
    assert re.search(r"@media print \{\s*\.b \{ background: url\(\"data:image/png;base64,", text)
    assert ".a { color: red }" in text
    assert "@import" not in text  # b.css importing a.css again is a cycle, dropped


def test_import_chain_deeper_than_the_limit_stays_a_link():
    resources = {
        f"https://example.com/{i}.css": Resource("text/css", f"@import '{i + 1}.css'; .c{i}{{}}".encode())
        for i in range(20)
    }
    html = '<html><head><link rel="stylesheet" href="https://example.com/0.css"></head></html>'
    text = tree(build(html, resources)).find(".//style").text
    assert ".c0{}" in text and ".c8{}" in text
    assert '@import url("https://example.com/9.css")' in text
    assert ".c12{}" not in text


def test_relative_urls_resolve_against_base_href_and_base_is_removed():
    resources = {"https://static.example.net/assets/pic.png": Resource("image/png", png())}
    html = (
        '<html><head><base href="https://static.example.net/assets/"></head>'
        '<body><img src="pic.png"><a href="next.html">next</a><a href="#top">top</a></body></html>'
    )
    doc = tree(build(html, resources))
    assert doc.find(".//base") is None
    assert doc.find(".//img").get("src") == data_uri("image/png", png())
    links = [a.get("href") for a in doc.iter("a")]
    assert links == ["https://static.example.net/assets/next.html", "#top"]


def test_every_image_reference_becomes_a_data_uri():
    pic, big, icon, poster = png(), png((0, 200, 0), (16, 16)), png((1, 2, 3)), png((9, 9, 9))
    resources = {
        "https://example.com/docs/pic.png": Resource("image/png", pic),
        "https://example.com/docs/pic@2x.png": Resource("image/png", big),
        "https://example.com/docs/hero.webp": Resource("image/webp", big),
        "https://example.com/favicon.png": Resource("image/png", icon),
        "https://example.com/docs/poster.png": Resource("image/png", poster),
        "https://example.com/docs/button.png": Resource("image/png", pic),
        "https://example.com/docs/inline.png": Resource("image/png", pic),
    }
    html = """<html><head><link rel="icon" href="/favicon.png">
    <style>.x{background:url(inline.png)}</style></head><body><img id="plain" src="pic.png">
    <img id="dense" src="pic.png" srcset="pic.png 1x, pic@2x.png 2x, pic@3x.png 3x" sizes="50vw">
    <picture><source srcset="hero.webp" type="image/webp"><img id="pictured" src="hero.jpg"></picture>
    <input type="image" src="button.png"><video poster="poster.png"></video>
    <svg><image xlink:href="pic.png"></image><image href="pic.png"></image></svg>
    <div style="background-image: url('inline.png')">styled</div></body></html>"""
    doc = tree(build(html, resources))
    assert doc.get_element_by_id("plain").get("src") == data_uri("image/png", pic)
    dense = doc.get_element_by_id("dense")
    # The best captured candidate wins; 3x was never downloaded.
    assert dense.get("src") == data_uri("image/png", big)
    assert dense.get("srcset") is None and dense.get("sizes") is None
    # The bytes are a PNG whatever the header says, and the data: URI says what they are.
    assert doc.get_element_by_id("pictured").get("src") == data_uri("image/png", big)
    assert doc.find(".//picture/source") is None
    assert doc.find(".//input").get("src") == data_uri("image/png", pic)
    assert doc.find(".//video").get("poster") == data_uri("image/png", poster)
    images = doc.findall(".//image")
    assert images[0].get("xlink:href") == images[1].get("href") == data_uri("image/png", pic)
    assert doc.find(".//link[@rel='icon']").get("href") == data_uri("image/png", icon)
    assert data_uri("image/png", pic) in doc.find(".//div").get("style")
    assert data_uri("image/png", pic) in doc.find(".//style").text


def test_srcset_parsing_keeps_commas_inside_urls():
    assert parse_srcset("a.jpg, https://img.example/w_100,h_50/b.jpg 2x,c.jpg 300w") == [
        ("a.jpg", 1.0),
        ("https://img.example/w_100,h_50/b.jpg", 2.0),
        ("c.jpg", 300.0),
    ]


def test_lazy_loaded_image_uses_the_captured_data_src():
    real = png((5, 6, 7))
    resources = {"https://example.com/docs/real.png": Resource("image/png", real)}
    html = (
        '<html><body><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" data-src="real.png"></body></html>'
    )
    assert tree(build(html, resources)).find(".//img").get("src") == data_uri("image/png", real)


def test_fonts_and_mislabelled_images_get_types_from_their_bytes():
    woff2 = b"wOF2" + b"\x00" * 60
    css = b"@font-face { font-family: T; src: url(t.woff2) format('woff2') } .i { background: url(i) }"
    resources = {
        "https://example.com/docs/s.css": Resource("text/css", css),
        "https://example.com/docs/t.woff2": Resource("application/octet-stream", woff2),
        "https://example.com/docs/i": Resource("text/plain", png()),
    }
    html = '<html><head><link rel="stylesheet" href="s.css"></head></html>'
    text = tree(build(html, resources)).find(".//style").text
    assert data_uri("font/woff2", woff2) in text
    assert data_uri("image/png", png()) in text
    assert sniff_type(b"\xff\xd8\xff\xe0rest") == "image/jpeg" and sniff_type(b"plain") == ""


def test_html_served_for_an_image_is_not_inlined():
    resources = {"https://example.com/docs/gone.png": Resource("text/html", b"<html>404</html>")}
    result = build('<html><body><img src="gone.png"></body></html>', resources)
    assert tree(result).find(".//img").get("src") == "https://example.com/docs/gone.png"
    assert result.missing == ["https://example.com/docs/gone.png"]


def test_missing_resources_keep_their_absolute_url_and_are_reported():
    html = """<html><head><link rel="stylesheet" href="/missing.css"></head><body>
    <img src="nope.png" srcset="nope.png 1x, nope2.png 2x"><div style="background:url(bg.png)"></div>"""
    result = build(html)
    doc = tree(result)
    assert doc.find(".//link").get("href") == "https://example.com/missing.css"
    img = doc.find(".//img")
    assert img.get("src") == "https://example.com/docs/nope.png"
    assert img.get("srcset") == "https://example.com/docs/nope.png 1x, https://example.com/docs/nope2.png 2x"
    assert 'url("https://example.com/docs/bg.png")' in doc.find(".//div").get("style")
    assert result.missing == [
        "https://example.com/missing.css",
        "https://example.com/docs/bg.png",
        "https://example.com/docs/nope.png",
    ]
    assert result.inlined == 0


def test_css_comments_strings_and_fragment_references_are_left_alone():
    css = (
        '/* url(a.png) */ .q::before {content: "url(b.png)"} .f {filter: url(#blur)} .e {content: "</style>"}'
    )
    resources = {"https://example.com/docs/s.css": Resource("text/css", css.encode())}
    result = build('<html><head><link rel="stylesheet" href="s.css"></head></html>', resources)
    assert "/* url(a.png) */" in result.html and '"url(b.png)"' in result.html and "url(#blur)" in result.html
    assert '</style>"' not in result.html  # could not end the <style> element early
    assert result.missing == []


def test_active_content_is_removed():
    html = """<html><head><meta http-equiv="refresh" content="0;url=https://evil.example/">
    <meta http-equiv="Content-Security-Policy" content="img-src https:"><script>document.title = 1</script>
    <link rel="preload" href="/big.js" as="script"></head>
    <body onload="steal()"><a href="javascript:alert(1)">js</a><a href=" JaVa&#9;Script:alert(1)">tab</a>
    <svg><a xlink:href="javascript:alert(2)"><text>svg</text></a></svg>
    <img src="x.png" onerror="alert(3)"><noscript><img src="tracker.png"></noscript>
    <iframe src="https://video.example/embed/1" width="560" height="315"></iframe>
    <iframe src="about:blank"></iframe>
    <object data="movie.swf"><p>fallback text</p></object><embed src="plugin.swf"><p id="after">after</p>
    <form action="/login" onsubmit="x()"><button formaction="/other">go</button></form></body></html>"""
    result = build(html)
    doc = tree(result)
    assert not doc.xpath("//script | //noscript | //iframe | //object | //embed | //frame")
    assert not doc.xpath("//@*[starts-with(name(), 'on')]")
    assert not [a for a in doc.iter("a") if "script:" in (a.get("href") or "").lower()]
    assert not [a for a in doc.iter("a") if "script:" in (a.get("xlink:href") or "").lower()]
    assert doc.find(".//form").get("action") is None and doc.find(".//button").get("formaction") is None
    refresh = [m for m in doc.iter("meta") if (m.get("http-equiv") or "").lower() == "refresh"]
    assert refresh == []
    policies = [
        m.get("content") for m in doc.iter("meta") if m.get("http-equiv") == "Content-Security-Policy"
    ]
    assert policies == [CSP]  # the page's own, looser policy is gone
    frame = doc.find(".//a[@class='linkhub-frame']")
    assert frame.get("href") == "https://video.example/embed/1" and "width:560px" in frame.get("style")
    assert "fallback text" in doc.text_content() and doc.get_element_by_id("after") is not None
    assert "tracker.png" not in result.html and "/big.js" not in result.html


def test_archive_head_declares_charset_policy_and_source():
    result = build(
        '<html><head><meta charset="iso-8859-1"><title>T</title></head><body>é</body></html>',
        captured_at="2025-05-01T10:00:00Z",
    )
    head = tree(result).find("head")
    assert head[0].get("charset") == "utf-8"
    assert head[1].get("http-equiv") == "Content-Security-Policy" and head[1].get("content") == CSP
    assert head[2].get("name") == "linkhub-archive"
    assert head[2].get("content") == f"{PAGE}, captured 2025-05-01T10:00:00Z"
    assert len([m for m in head.iter("meta") if m.get("charset")]) == 1
    assert result.html.startswith("<!DOCTYPE html>") and "é" in result.html


def test_object_showing_an_svg_becomes_an_image():
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>'
    resources = {"https://example.com/docs/diagram.svg": Resource("", svg)}
    html = '<html><body><object data="diagram.svg" type="image/svg+xml" width="40"><p>fb</p></object>'
    img = tree(build(html, resources)).find(".//img")
    assert img.get("src") == data_uri("image/svg+xml", svg) and img.get("width") == "40"


def test_byte_caps_skip_large_resources_and_stop_at_the_total():
    small, large = png((1, 1, 1)), png((2, 2, 2), (400, 400)) + b"\x00" * 5000
    resources = {f"https://example.com/docs/{i}.png": Resource("image/png", small) for i in range(5)}
    resources["https://example.com/docs/large.png"] = Resource("image/png", large)
    html = (
        "<html><body>"
        + "".join(f'<img src="{i}.png">' for i in range(5))
        + '<img src="large.png"></body></html>'
    )
    result = build(html, resources, max_resource_bytes=len(large) - 1, max_total_bytes=len(small) * 3)
    srcs = [img.get("src") for img in tree(result).iter("img")]
    assert sum(src.startswith("data:") for src in srcs) == 3
    assert result.inlined == 3
    assert result.skipped_large == [
        "https://example.com/docs/3.png",
        "https://example.com/docs/4.png",
        "https://example.com/docs/large.png",
    ]
    assert srcs[-1] == "https://example.com/docs/large.png"


def test_html5_void_elements_do_not_swallow_their_siblings():
    """libxml2 nests what follows <source>, <wbr> or <embed> inside them; the archive must not."""
    html = '<html><body><p>a<wbr>b</p><embed src="x.swf"><p id="kept">kept</p></body></html>'
    doc = tree(build(html))
    assert doc.get_element_by_id("kept") is not None
    assert doc.find(".//p").text_content() == "ab"


def test_empty_document_still_gives_a_valid_archive():
    result = build("")
    assert "Content-Security-Policy" in result.html and result.inlined == 0


def _synthetic_docs_page() -> tuple[str, dict[str, Resource]]:
    """About 300 KB of HTML with 10 stylesheets and 50 images, like a documentation page."""
    resources: dict[str, Resource] = {}
    links = []
    for i in range(10):
        css = "".join(
            f".c{i}-{j} {{ color: #{j:06x}; background: url(../img/{j % 50}.png) }}\n" for j in range(200)
        )
        resources[f"https://example.com/static/css/{i}.css"] = Resource("text/css", css.encode())
        links.append(f'<link rel="stylesheet" href="/static/css/{i}.css">')
    for j in range(50):
        resources[f"https://example.com/static/img/{j}.png"] = Resource("image/png", png((j, j, j), (64, 64)))
    paragraph = (
        '<p class="c1-1">Some documentation text, <a href="o.html#x">a link</a>, <code>code</code>.</p>'
    )
    body = paragraph * 2700 + "".join(f'<img src="/static/img/{j}.png" alt="">' for j in range(50))
    return f"<html><head>{''.join(links)}</head><body>{body}</body></html>", resources


def test_build_is_fast_on_a_documentation_sized_page():
    html, resources = _synthetic_docs_page()
    assert 250_000 < len(html) < 350_000
    started = time.perf_counter()
    result = build(html, resources)
    elapsed = time.perf_counter() - started
    assert result.inlined == 60 and not result.missing
    assert elapsed < 0.5, f"build_archive took {elapsed:.3f}s"  # about 30 ms here; generous for slow CI


@pytest.mark.skipif(not (DOCS / "library/argparse.html").exists(), reason="python3-doc is not installed")
def test_real_python_docs_page_inlines_its_import_chain():
    site = "https://docs.python.org/3.11/"
    resources = {
        f"{site}_static/{path.name}": Resource("", path.read_bytes()) for path in (DOCS / "_static").iterdir()
    }
    resources[f"{site}_static/pydoctheme.css?2022.1"] = resources[f"{site}_static/pydoctheme.css"]
    html = (DOCS / "library/argparse.html").read_text()
    result = build_archive(dom_html=html, base_url=f"{site}library/argparse.html", resources=resources)
    # pydoctheme.css imports default.css, which imports classic.css, which imports basic.css;
    # basic.css's url(file.png) resolves next to basic.css, not next to the page.
    assert "div.sphinxsidebar" in result.html
    assert data_uri("image/png", (DOCS / "_static/file.png").read_bytes()) in result.html
    assert "<script" not in result.html and "@import" not in result.html
    assert result.missing == []


@pytest.mark.browser
def test_archive_renders_offline_in_chromium(playwright_session):
    """Fonts, CSS backgrounds and images show with every request aborted, and no script runs."""

    font = _a_font()
    photo = png((0, 128, 255), (40, 30))
    background = png((255, 0, 0), (10, 10))
    css = (
        b"@font-face { font-family: ArchiveTest; src: url(../fonts/test.ttf) format('truetype') }"
        b" .hero { font-family: ArchiveTest, monospace; width: 100px; height: 100px;"
        b" background: url(../img/bg.png) repeat }"
    )
    resources = {
        "https://example.com/static/css/site.css": Resource("text/css", css),
        "https://example.com/static/fonts/test.ttf": Resource("application/octet-stream", font),
        "https://example.com/static/img/bg.png": Resource("image/png", background),
        "https://example.com/docs/photo.png": Resource("image/png", photo),
    }
    html = """<html><head><title>Original</title><link rel="stylesheet" href="/static/css/site.css">
    <script>document.title = "script ran"</script></head>
    <body><div class="hero" id="hero">Archived text</div><img id="photo" src="photo.png">
    <img src="missing.png" onerror="document.body.dataset.ran = 'yes'">
    <script src="https://example.com/app.js"></script></body></html>"""
    archive = build(html, resources).html
    executable = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run"]  # fmt: skip
    requested: list[str] = []
    with nullcontext(playwright_session) as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=args)
        try:
            page = browser.new_page()
            page.route("**/*", lambda route: (requested.append(route.request.url), route.abort()))
            page.set_content(archive, wait_until="load")
            page.evaluate("document.fonts.ready")
            state = page.evaluate(
                """() => ({
                    title: document.title,
                    ran: document.body.dataset.ran || "",
                    font: [...document.fonts].some(f => f.family.replace(/"/g, "") === "ArchiveTest"
                                                        && f.status === "loaded"),
                    fontCheck: document.fonts.check("16px ArchiveTest"),
                    photo: document.getElementById("photo").naturalWidth,
                    background: getComputedStyle(document.getElementById("hero")).backgroundImage,
                })"""
            )
            pixel = (
                Image.open(io.BytesIO(page.locator("#hero").screenshot())).convert("RGB").getpixel((95, 95))
            )
        finally:
            browser.close()
    assert state["title"] == "Original" and state["ran"] == ""
    assert state["font"] and state["fontCheck"]
    assert state["photo"] == 40
    assert state["background"].startswith('url("data:image/png')
    assert pixel == (255, 0, 0)  # the tiled background image really painted
    assert [url for url in requested if not url.startswith("data:")] == []


def _a_font() -> bytes:
    return (FIXTURES / "LiberationMono-Regular.ttf").read_bytes()  # committed with the tests
