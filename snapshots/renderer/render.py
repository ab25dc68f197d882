"""Render a URL (or an uploaded HTML page) with Chromium into a Capture.

Stages, each timed into the provenance: navigation (to DOMContentLoaded), settling (the load
event, then a quiet network, a scroll through the page so lazy images load, images decoded),
capture (DOM, screenshot, thumbnail, PDF, archive, text) — storing is timed by the service.
Every failure raises RenderFailure with a classified reason and a sentence a person can read.
"""

from __future__ import annotations

import base64
import io
import logging
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from PIL import Image
from playwright.sync_api import BrowserContext, Error, Page, Response, ViewportSize
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from ..archive import Resource, build_archive
from ..capture import Capture
from ..extract import extract_metadata, extract_text, pdf_text
from ..models import FailureReason
from . import guard
from .browser import POOL
from .proxy import GuardProxy, ProxySession

logger = logging.getLogger(__name__)

VIEWPORT: ViewportSize = {"width": 1280, "height": 900}
THUMBNAIL_WIDTH = 400
CAPTURED_TYPES = frozenset({"stylesheet", "image", "font"})
HTML_TYPES = ("text/html", "application/xhtml+xml")
PAGE_LIKE_TYPES = ("text/plain", "application/json", "text/xml", "application/xml", "image/svg+xml")

# Scrolls through the page a screen at a time so that lazy loaders see every image, then back.
# Installed in every page before its own scripts: counts what lazy loaders are built from
# (IntersectionObservers, scroll and wheel listeners), so a page that has none is not scrolled.
LAZY_WATCH_JS = """(() => {
  const seen = {observers: 0, listeners: 0};
  Object.defineProperty(window, '__linkhubLazy', {value: seen});
  if (window.IntersectionObserver) {
    window.IntersectionObserver = new Proxy(window.IntersectionObserver, {
      construct(target, args, newTarget) {
        seen.observers += 1;
        return Reflect.construct(target, args, newTarget);
      },
    });
  }
  const add = EventTarget.prototype.addEventListener;
  EventTarget.prototype.addEventListener = new Proxy(add, {
    apply(target, self, args) {
      if (args[0] === 'scroll' || args[0] === 'wheel') seen.listeners += 1;
      return Reflect.apply(target, self, args);
    },
  });
})();"""

# Native lazy images are switched to eager (no scrolling needed for them); the page is scrolled
# a screen at a time only when something on it loads on scroll.
SCROLL_JS = """async ({maxSteps, pauseMs}) => {
  const natives = document.querySelectorAll('img[loading="lazy"], iframe[loading="lazy"]');
  natives.forEach(el => { el.loading = 'eager'; });
  const seen = window.__linkhubLazy || {observers: 1, listeners: 1};
  const hinted = document.querySelectorAll(
    '[data-src], [data-srcset], [data-lazy], [data-lazy-src], [data-original], .lazyload, .lazy').length;
  const signals = {native: natives.length, observers: seen.observers, listeners: seen.listeners, hinted};
  if (!seen.observers && !seen.listeners && !hinted) return {steps: 0, skipped: true, signals};
  const step = Math.max(200, window.innerHeight * 0.9);
  let steps = 0;
  while (steps < maxSteps && window.scrollY + window.innerHeight < document.documentElement.scrollHeight) {
    window.scrollBy(0, step);
    steps += 1;
    await new Promise(r => setTimeout(r, pauseMs));
  }
  window.scrollTo(0, 0);
  return {steps, skipped: false, signals};
}"""

PAGE_HEIGHT_JS = "() => Math.max(document.documentElement.scrollHeight, document.body?.scrollHeight || 0)"

IMAGES_JS = """async (timeoutMs) => {
  const pending = Array.from(document.images).filter(img => !img.complete);
  const all = Promise.all(pending.map(img => img.decode().catch(() => null)));
  await Promise.race([all, new Promise(r => setTimeout(r, timeoutMs))]);
  return pending.length;
}"""


class RenderFailure(Exception):
    def __init__(self, reason: str, detail: str, provenance: dict | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.provenance = provenance or {}


@dataclass
class Tracker:
    """What the page did on the network, from Playwright's events."""

    in_flight: int = 0
    last_change: float = field(default_factory=time.monotonic)
    responses: list[Response] = field(default_factory=list)
    nav_urls: list[str] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    download: bool = False

    def attach(self, page: Page) -> None:
        page.on("request", self._on_request)
        page.on("requestfinished", self._on_done)
        page.on("requestfailed", self._on_failed)
        page.on("response", self._on_response)
        page.on("download", self._on_download)
        self.main_frame = page.main_frame

    def _on_request(self, request) -> None:
        self.in_flight += 1
        self.last_change = time.monotonic()
        if request.is_navigation_request() and request.frame == self.main_frame:
            self.nav_urls.append(request.url)

    def _on_done(self, request) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        self.last_change = time.monotonic()

    def _on_failed(self, request) -> None:
        self._on_done(request)
        if len(self.failed) < 100:
            self.failed.append({"url": request.url[:500], "error": (request.failure or "")[:200]})

    def _on_response(self, response: Response) -> None:
        if response.request.resource_type in CAPTURED_TYPES and len(self.responses) < 2000:
            self.responses.append(response)

    def _on_download(self, download) -> None:
        self.download = True
        download.cancel()


@dataclass
class Limits:
    nav_timeout: float
    settle_timeout: float
    quiet_seconds: float
    max_bytes: int
    max_screenshot_height: int
    scroll_steps: int

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            nav_timeout=settings.SNAPSHOT_NAV_TIMEOUT,
            settle_timeout=settings.SNAPSHOT_SETTLE_TIMEOUT,
            quiet_seconds=settings.SNAPSHOT_QUIET_SECONDS,
            max_bytes=settings.SNAPSHOT_MAX_BYTES,
            max_screenshot_height=settings.SNAPSHOT_MAX_SCREENSHOT_HEIGHT,
            scroll_steps=settings.SNAPSHOT_SCROLL_STEPS,
        )


def _wait_quiet(page: Page, tracker: Tracker, deadline: float, quiet: float) -> bool:
    """Wait until no request has been in flight for ``quiet`` seconds, or the deadline."""
    while time.monotonic() < deadline:
        if tracker.in_flight == 0 and time.monotonic() - tracker.last_change >= quiet:
            return True
        page.wait_for_timeout(50)
    return False


def classify_error(message: str, session, tracker: Tracker, url: str) -> tuple[str, str]:
    """Map a navigation error to a failure reason and a sentence for a person."""
    hosts = [urlsplit(u).hostname or "" for u in (tracker.nav_urls or [url])]
    for host in reversed(hosts):
        kind = session.event_for_host(host) if session is not None else None
        if kind:
            return _proxy_kind(kind, host, session)
    if session is not None and session.too_large:
        return FailureReason.TOO_LARGE, f"The page is larger than {settings.SNAPSHOT_MAX_BYTES:,} bytes."
    text = message.split("\n", 1)[0]
    if "ERR_NAME_NOT_RESOLVED" in message or "ERR_NAME_RESOLUTION_FAILED" in message:
        return FailureReason.DNS, f"The host name {hosts[-1]} could not be found."
    if "ERR_CONNECTION_REFUSED" in message:
        return FailureReason.REFUSED, f"{hosts[-1]} refused the connection."
    if any(k in message for k in ("ERR_CERT_", "ERR_SSL_", "SSL_PROTOCOL", "ERR_BAD_SSL")):
        return FailureReason.TLS, f"The secure connection to {hosts[-1]} failed ({text})."
    if "Timeout" in message or "ERR_TIMED_OUT" in message:
        return (
            FailureReason.TIMEOUT,
            f"The page did not load within {settings.SNAPSHOT_NAV_TIMEOUT:.0f} seconds.",
        )
    if any(k in message for k in ("ERR_CONNECTION_RESET", "ERR_CONNECTION_CLOSED", "ERR_EMPTY_RESPONSE")):
        return FailureReason.REFUSED, f"The connection to {hosts[-1]} was dropped ({text})."
    if any(k in message for k in ("Target crashed", "has been closed", "Browser closed", "crash")):
        return FailureReason.BROWSER_CRASH, f"The browser stopped while loading the page ({text})."
    return FailureReason.INTERNAL, text[:500]


def _proxy_kind(kind: str, host: str, session) -> tuple[str, str]:
    if kind == "blocked_address":
        wanted = guard.normalise_host(host)
        blocked = session.blocked if session is not None else []
        reason = next(
            (b.get("reason", "") for b in blocked if guard.normalise_host(b.get("host") or "") == wanted), ""
        )
        return (
            FailureReason.BLOCKED_ADDRESS,
            f"{host} is not allowed: {reason or 'a private or reserved address'}.",
        )
    if kind == "dns":
        return FailureReason.DNS, f"The host name {host} could not be found."
    if kind == "refused":
        return FailureReason.REFUSED, f"{host} refused the connection."
    if kind == "timeout":
        return FailureReason.TIMEOUT, f"{host} did not answer in time."
    return FailureReason.INTERNAL, f"{host}: {kind}"


def _redirect_chain(response: Response) -> list[dict]:
    chain = []
    request = response.request.redirected_from
    while request is not None:
        hop = request.response()
        chain.append({"url": request.url, "status": hop.status if hop else None})
        request = request.redirected_from
    chain.reverse()
    chain.append({"url": response.url, "status": response.status})
    return chain


def _thumbnail(screenshot: bytes) -> bytes:
    with Image.open(io.BytesIO(screenshot)) as img:
        top = img.crop((0, 0, img.width, min(img.height, int(img.width * 0.75))))
        top.thumbnail((THUMBNAIL_WIDTH, THUMBNAIL_WIDTH))
        out = io.BytesIO()
        top.convert("RGB").save(out, format="PNG", optimize=True)
        return out.getvalue()


def _screenshot(page: Page, limits: Limits) -> tuple[bytes, bytes, dict]:
    """The full-page screenshot and the thumbnail, both PNG, both drawn by Chromium.

    Through the DevTools protocol rather than ``page.screenshot``: ``captureBeyondViewport``
    draws the whole page without resizing the window, ``optimizeForSpeed`` encodes the PNG
    with about 40% less CPU (for files about a quarter larger), and the thumbnail is drawn
    at a quarter scale instead of being decoded and shrunk in Python."""
    height = page.evaluate(PAGE_HEIGHT_JS)
    width = VIEWPORT["width"]
    clipped = height > limits.max_screenshot_height
    shot_height = min(max(int(height or 0), VIEWPORT["height"]), limits.max_screenshot_height)
    thumb_height = min(shot_height, int(width * 0.75))
    info = {"page_height": height, "screenshot_height": shot_height, "clipped": clipped}
    if not page.evaluate("() => document.documentElement instanceof HTMLElement"):
        # An SVG (or other XML) document: Playwright's full-page mode injects a stylesheet that
        # such a document never applies, and waits forever. The viewport is the whole drawing.
        data = page.screenshot(type="png")
        info.update(screenshot_height=VIEWPORT["height"], clipped=False)
        return data, _thumbnail(data), info
    try:
        cdp = page.context.new_cdp_session(page)
        try:
            full = cdp.send(
                "Page.captureScreenshot",
                {
                    "format": "png",
                    "captureBeyondViewport": True,
                    "optimizeForSpeed": True,
                    "clip": {"x": 0, "y": 0, "width": width, "height": shot_height, "scale": 1},
                },
            )
            thumb = cdp.send(
                "Page.captureScreenshot",
                {
                    "format": "png",
                    "clip": {
                        "x": 0,
                        "y": 0,
                        "width": width,
                        "height": thumb_height,
                        "scale": THUMBNAIL_WIDTH / width,
                    },
                },
            )
        finally:
            cdp.detach()
        info["method"] = "cdp"
        return base64.b64decode(full["data"]), base64.b64decode(thumb["data"]), info
    except Error as exc:  # not Chromium's protocol after all, or a protocol change: the slow path
        logger.info("CDP screenshot failed (%s); using page.screenshot", str(exc).split("\n", 1)[0])
    data = page.screenshot(
        type="png",
        full_page=True,
        clip={"x": 0, "y": 0, "width": width, "height": shot_height},
        animations="disabled",
    )
    info["method"] = "playwright"
    return data, _thumbnail(data), info


def _resources(tracker: Tracker, max_total: int) -> tuple[dict[str, Resource], int]:
    found: dict[str, Resource] = {}
    total = 0
    for response in tracker.responses:
        if response.url in found or not (200 <= response.status < 300):
            continue
        try:
            body = response.body()
        except Error:  # evicted from the browser's buffer, or the request failed
            continue
        total += len(body)
        if total > max_total:
            break
        found[response.url] = Resource(response.headers.get("content-type", ""), body)
    return found, total


def _print_pdf(page: Page) -> bytes:
    return page.pdf(
        print_background=True,
        format="A4",
        margin={"top": "1cm", "bottom": "1cm", "left": "1cm", "right": "1cm"},
    )


def _archive(dom: str, tracker: Tracker, limits: Limits, *, base_url: str) -> tuple[str, dict]:
    """The page as one self-contained HTML file, built from the DOM and the bodies of the
    stylesheets, images and fonts the browser received (so nothing is fetched twice)."""
    resources, resource_bytes = _resources(tracker, limits.max_bytes)
    archive = build_archive(dom_html=dom, base_url=base_url, resources=resources)
    details = {
        "resources_captured": len(resources),
        "resource_bytes": resource_bytes,
        "archive": {
            "inlined": archive.inlined,
            "missing": len(archive.missing),
            "skipped_large": len(archive.skipped_large),
        },
    }
    return archive.html, details


def _capture_page(
    page: Page, tracker: Tracker, limits: Limits, capture: Capture, *, base_url: str, timings: dict
) -> dict:
    """Fill ``capture`` from the settled page: metadata, screenshot and thumbnail, PDF, archived
    HTML and text. Returns the details for the provenance."""
    t = time.monotonic()
    dom = page.content()
    meta = extract_metadata(dom, base_url)
    capture.screenshot, capture.thumbnail, shot_info = _screenshot(page, limits)
    capture.pdf = _print_pdf(page)
    capture.html, archive_info = _archive(dom, tracker, limits, base_url=base_url)
    capture.text = extract_text(dom, base_url)
    timings["capture"] = round(time.monotonic() - t, 3)
    meta.title = meta.title or page.title()
    capture.meta = meta
    return {**shot_info, **archive_info}


def _new_context(*, javascript: bool = True) -> BrowserContext:
    browser = POOL.browser()
    context = browser.new_context(
        viewport=VIEWPORT,
        user_agent=POOL.user_agent,
        locale="en-US",
        service_workers="block",
        accept_downloads=True,
        java_script_enabled=javascript,
    )
    if javascript:
        context.add_init_script(LAZY_WATCH_JS)
    return context


def _browser_name(context: BrowserContext) -> str:
    return f"Chromium {context.browser.version}" if context.browser else "Chromium"


def _context_close(context: BrowserContext, proxy: GuardProxy, provenance: dict) -> None:
    """Keep what the proxy saw, and close the page's context; a browser that cannot even do
    that is replaced before the next render."""
    provenance["network"] = _network_summary(proxy)
    try:
        context.close()
    except Error:
        POOL.reset()


def _fetch_document(url: str, limits: Limits) -> tuple[bytes, str, str, int]:
    """A non-HTML document (a PDF, say) fetched through the guard proxy, within the byte cap."""
    session = POOL.proxy.current_or_none()
    with httpx.Client(
        proxy=POOL.proxy.url,
        timeout=limits.nav_timeout,
        follow_redirects=True,
        max_redirects=10,
        trust_env=False,
    ) as client:
        try:
            with client.stream("GET", url) as response:
                if response.headers.get("x-linkhub-proxy-error"):
                    kind = response.headers["x-linkhub-proxy-error"]
                    raise RenderFailure(*_proxy_kind(kind, response.url.host, session))
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > limits.max_bytes:
                        raise RenderFailure(
                            FailureReason.TOO_LARGE, f"The file is larger than {limits.max_bytes:,} bytes."
                        )
                return (
                    bytes(body),
                    response.headers.get("content-type", ""),
                    str(response.url),
                    response.status_code,
                )
        except httpx.ProxyError:  # an https hop the guard refused
            host = urlsplit(url).hostname or ""
            event = session.event_for_host(host) if session is not None else None
            raise RenderFailure(*_proxy_kind(event or "blocked_address", host, session)) from None
        except httpx.TimeoutException:
            raise RenderFailure(FailureReason.TIMEOUT, "The file did not arrive in time.") from None
        except httpx.TooManyRedirects:
            raise RenderFailure(FailureReason.HTTP_4XX, "The address redirects too many times.") from None
        except httpx.TransportError as exc:  # connection reset, refused, closed mid-body
            detail = f"The connection failed while fetching the file ({type(exc).__name__})."
            raise RenderFailure(FailureReason.REFUSED, detail) from None


def _status_reason(status: int) -> str:
    """HTTP errors: 408, 425 and 429 mean "try again later", as transient as a 5xx."""
    if status >= 500 or status in (408, 425, 429):
        return FailureReason.HTTP_5XX
    return FailureReason.HTTP_4XX


def _main_type(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


# --- a URL, step by step: address check, navigate, check the response, settle, capture ----------


def render_url(url: str, *, limits: Limits | None = None) -> tuple[Capture, dict]:
    """Render a public URL into a Capture and its provenance; RenderFailure says why not."""
    limits = limits or Limits.from_settings()
    provenance: dict = {"wait_strategy": {}, "viewport": VIEWPORT, "timings": {}}
    _check_address(url, provenance)
    proxy = POOL.proxy
    context = _new_context()
    provenance["browser"] = _browser_name(context)
    session = proxy.begin(max_bytes=limits.max_bytes, label=url[:100])
    tracker = Tracker()  # before the page: a failure to open one is classified with it too
    try:
        page = context.new_page()
        tracker.attach(page)
        return _render_page(page, url, session=session, tracker=tracker, limits=limits, provenance=provenance)
    except Error as exc:
        raise _browser_failure(
            exc, session=session, tracker=tracker, url=url, provenance=provenance
        ) from None
    finally:
        _context_close(context, proxy, provenance)


def _check_address(url: str, provenance: dict) -> None:
    """The guard's verdict on the URL's host before the browser is involved at all."""
    try:
        guard.check_url(url)
    except guard.BlockedAddress as exc:
        raise RenderFailure(
            FailureReason.BLOCKED_ADDRESS, f"{exc.host} is not allowed: {exc.reason}.", provenance
        ) from None
    except guard.ResolutionFailed as exc:
        raise RenderFailure(
            FailureReason.DNS, f"The host name {exc.host} could not be found.", provenance
        ) from None


def _browser_failure(
    exc: Error, *, session: ProxySession | None, tracker: Tracker, url: str, provenance: dict
) -> RenderFailure:
    """A Playwright error anywhere in the render, classified; after a crash, or an error we
    cannot name, the browser is replaced rather than trusted with the next snapshot."""
    reason, detail = classify_error(str(exc), session, tracker, url)
    if reason in (FailureReason.BROWSER_CRASH, FailureReason.INTERNAL):
        POOL.reset()
    return RenderFailure(reason, detail, provenance)


def _render_page(
    page: Page, url: str, *, session: ProxySession, tracker: Tracker, limits: Limits, provenance: dict
) -> tuple[Capture, dict]:
    timings = provenance["timings"]
    started = time.monotonic()
    response, downloading = _navigate(
        page, url, session=session, tracker=tracker, limits=limits, provenance=provenance
    )
    if downloading:
        return _render_download(url, limits, provenance, timings, started=started)
    timings["navigation"] = round(time.monotonic() - started, 3)
    if response is None:
        raise RenderFailure(FailureReason.INTERNAL, "The browser gave no response for the page.", provenance)
    capture = _response_capture(response)
    _check_response(response, session, provenance)
    ctype = _main_type(capture.content_type)
    if ctype == "application/pdf":
        # Chromium shows PDFs in its viewer, whose page is not the file: fetch the file itself.
        return _render_download(response.url, limits, provenance, timings, started=started)
    _keep_image_or_refuse(capture, response, ctype, provenance)
    _settle(page, tracker, limits, provenance)
    if session.too_large:
        raise RenderFailure(
            FailureReason.TOO_LARGE, f"The page is larger than {limits.max_bytes:,} bytes.", provenance
        )
    provenance["capture"] = _capture_page(
        page, tracker, limits, capture, base_url=response.url, timings=timings
    )
    if capture.original:
        capture.pdf = None  # an image is kept as itself; a PDF of it adds nothing
    provenance["failed_requests"] = tracker.failed[:50]
    return capture, provenance


def _navigate(
    page: Page, url: str, *, session: ProxySession, tracker: Tracker, limits: Limits, provenance: dict
) -> tuple[Response | None, bool]:
    """Load the URL up to DOMContentLoaded. (response, False) for a page; (None, True) when the
    browser started a download instead, which means the URL is a file."""
    try:
        response = page.goto(url, wait_until="domcontentloaded", timeout=limits.nav_timeout * 1000)
    except Error as exc:
        if tracker.download or "Download is starting" in str(exc):
            return None, True
        reason, detail = classify_error(str(exc), session, tracker, url)
        raise RenderFailure(reason, detail, provenance) from None
    return response, False


def _response_capture(response: Response) -> Capture:
    return Capture(
        final_url=response.url,
        redirect_chain=_redirect_chain(response),
        http_status=response.status,
        content_type=response.headers.get("content-type", ""),
    )


def _check_response(response: Response, session: ProxySession, provenance: dict) -> None:
    """The guard proxy's refusal of a hop, or an HTTP error, ends the render here."""
    proxy_error = response.headers.get("x-linkhub-proxy-error")
    if proxy_error:
        host = urlsplit(response.url).hostname or ""
        raise RenderFailure(*_proxy_kind(proxy_error, host, session), provenance)
    if response.status >= 400:
        raise RenderFailure(
            _status_reason(response.status),
            f"The server answered {response.status} {response.status_text}.".replace("  ", " "),
            provenance,
        )


def _keep_image_or_refuse(capture: Capture, response: Response, ctype: str, provenance: dict) -> None:
    """An image is kept as itself (and still drawn); a type that is neither a page nor an image
    cannot be archived."""
    if ctype.startswith("image/"):
        capture.original, capture.original_type = response.body(), ctype
    elif ctype and not ctype.startswith(HTML_TYPES) and not ctype.startswith(PAGE_LIKE_TYPES):
        raise RenderFailure(FailureReason.UNSUPPORTED_CONTENT, f"{ctype} cannot be archived.", provenance)


def _settle(page: Page, tracker: Tracker, limits: Limits, provenance: dict) -> None:
    """The load event, a quiet network, lazy images, decoded images: each bounded by the settle
    budget, and each recorded in the wait strategy (a page that never goes quiet still renders)."""
    t = time.monotonic()
    deadline = t + limits.settle_timeout
    wait = provenance["wait_strategy"]
    try:
        page.wait_for_load_state("load", timeout=max(0.1, deadline - time.monotonic()) * 1000)
        wait["load_event"] = True
    except PlaywrightTimeout:
        wait["load_event"] = False
    wait["quiet_before_scroll"] = _wait_quiet(page, tracker, deadline, limits.quiet_seconds)
    scrolled = page.evaluate(SCROLL_JS, {"maxSteps": limits.scroll_steps, "pauseMs": 60})
    wait["scroll_steps"] = scrolled["steps"]
    wait["scroll_skipped"] = scrolled["skipped"]  # nothing on the page loads on scroll
    wait["lazy_signals"] = scrolled["signals"]
    wait["quiet_after_scroll"] = _wait_quiet(
        page, tracker, max(deadline, time.monotonic() + 1), limits.quiet_seconds
    )
    wait["images_waited"] = page.evaluate(IMAGES_JS, 2000)
    wait["settle_budget_seconds"] = limits.settle_timeout
    provenance["timings"]["settle"] = round(time.monotonic() - t, 3)


def _network_summary(proxy: GuardProxy) -> dict:
    """End the proxy session and keep what it saw: bytes, requests, and every blocked request."""
    if proxy.current_or_none() is None:
        return {}
    session = proxy.end()
    return {
        "requests": session.requests,
        "bytes_received": session.bytes_received,
        "bytes_sent": session.bytes_sent,
        "blocked": session.blocked[:100],
        "dns_failures": session.dns_failures[:50],
        "refused": session.refused[:50],
        "timeouts": session.timeouts[:50],
        "too_large": session.too_large,
    }


# --- a file instead of a page, and an uploaded page ------------------------------------------------


def _render_download(
    url: str, limits: Limits, provenance: dict, timings: dict, *, started: float
) -> tuple[Capture, dict]:
    """The URL is a file the browser would download: keep it as itself if it is a PDF."""
    body, ctype, final_url, status = _fetch_document(url, limits)
    timings["navigation"] = round(time.monotonic() - started, 3)
    ctype_main = _main_type(ctype)
    if status >= 400:
        raise RenderFailure(_status_reason(status), f"The server answered {status}.", provenance)
    if ctype_main != "application/pdf" and not body.startswith(b"%PDF-"):
        raise RenderFailure(
            FailureReason.UNSUPPORTED_CONTENT,
            f"{ctype_main or 'this file type'} cannot be archived.",
            provenance,
        )
    capture = Capture(
        final_url=final_url,
        redirect_chain=[{"url": final_url, "status": status}],
        http_status=status,
        content_type=ctype or "application/pdf",
    )
    return _pdf_capture(capture, body, provenance)


def _pdf_capture(capture: Capture, body: bytes, provenance: dict) -> tuple[Capture, dict]:
    """A PDF is kept as itself, with its text and title for search."""
    text, info = pdf_text(body)
    provenance["pdf"] = info
    capture.meta.title = str(info.get("title") or "")
    capture.text = text
    capture.original, capture.original_type = body, "application/pdf"
    return capture, provenance


def render_upload(html: str, *, base_url: str, limits: Limits | None = None) -> tuple[Capture, dict]:
    """An uploaded page (a SingleFile save, say), rendered offline with scripts off."""
    limits = limits or Limits.from_settings()
    timings: dict = {}
    provenance: dict = {
        "wait_strategy": {"offline": True, "javascript": False},
        "viewport": VIEWPORT,
        "timings": timings,
    }
    proxy = POOL.proxy
    context = _new_context(javascript=False)
    provenance["browser"] = _browser_name(context)
    proxy.begin(max_bytes=limits.max_bytes, allow_network=False)
    try:
        page = context.new_page()
        tracker = Tracker()
        tracker.attach(page)
        t = time.monotonic()
        page.set_content(html, wait_until="load", timeout=limits.nav_timeout * 1000)
        timings["navigation"] = round(time.monotonic() - t, 3)
        capture = Capture(final_url=base_url, content_type="text/html")
        provenance["capture"] = _capture_page(
            page, tracker, limits, capture, base_url=base_url, timings=timings
        )
        return capture, provenance
    except Error as exc:
        reason, detail = classify_error(str(exc), None, Tracker(), base_url)
        raise RenderFailure(reason, detail, provenance) from None
    finally:
        _context_close(context, proxy, provenance)
