"""Flag captures that probably do not show the page the person saved.

A capture can succeed technically and still be useless: a blank page, an error page served with
200, a bot wall or a cookie wall. Each check looks for strong signals and, to spare long articles
that merely mention "captcha" or carry a cookie banner, most of them only fire on short pages.
The reason is written for a person; what to do with a suspect capture is the caller's choice.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from http import HTTPStatus

from PIL import Image, UnidentifiedImageError

# Word counts below which a page is "short" for each kind of check. Error, bot and consent
# pages carry a sentence or two plus some chrome; real pages rarely fall under these.
BLANK_MAX_WORDS = 10
ERROR_TEXT_MAX_WORDS = 100
ERROR_TITLE_MAX_WORDS = 250
WALL_MAX_WORDS = 150
WALL_MARKER_MAX_WORDS = 60
CONSENT_MAX_WORDS = 300
CONSENT_MIN_SHARE = 0.5
# A screenshot is "one colour" when the pixels that differ from its most common grey level (by
# more than a few levels) cover less than this share of one screen: a spinner and a word or two.
# An area, not a share of the page, so that two photos far down a tall white page still count.
MAX_MARKED_SCREENS = 0.01
GREY_TOLERANCE = 8
TEXT_HEAD_CHARS = 300


def _phrases(*phrases: str) -> re.Pattern[str]:
    return re.compile("|".join(rf"(?<!\w){re.escape(p)}(?!\w)" for p in phrases), re.I)


_ERROR_PHRASES = _phrases(
    "404 not found", "page not found", "error 404", "404 error", "http error 404", "file not found",
    "the page you requested could not be found", "this page could not be found", "page does not exist",
    "page doesn't exist", "this page isn't available", "internal server error", "500 internal server error",
    "502 bad gateway", "bad gateway", "503 service unavailable", "service unavailable",
    "service temporarily unavailable", "504 gateway time-out", "504 gateway timeout", "gateway timeout",
    "access denied", "403 forbidden", "you don't have permission to access", "401 unauthorized",
    "400 bad request", "410 gone", "429 too many requests", "this site can't be reached",
    "this page isn't working", "err_name_not_resolved", "err_connection_refused", "welcome to nginx!",
    "apache2 debian default page", "apache2 ubuntu default page", "test page for the apache http server",
    "it works!", "default web site page", "account suspended", "this domain is for sale",
    # de, fr, es, it, pt, nl, pl, ru, ja, zh
    "seite nicht gefunden", "fehler 404", "page introuvable", "page non trouvée", "erreur 404",
    "página no encontrada", "pagina non trovata", "página não encontrada", "pagina niet gevonden",
    "nie znaleziono strony", "страница не найдена", "ページが見つかりません", "页面不存在", "找不到页面",
)  # fmt: skip
# A title that is nothing but an error ("Not Found", "403", "Error") is an error page.
_ERROR_TITLE_ONLY = re.compile(
    r"^\W*(?:(?:error|http)?\s*[45]\d\d\b)?\W*(?:not found|forbidden|unauthori[sz]ed|bad request|gone|"
    r"error|oops!?|unavailable|server error)?\W*$",
    re.I,
)
_BOT_PHRASES = _phrases(
    "just a moment...", "just a moment…", "checking your browser",
    "checking if the site connection is secure",
    "attention required! | cloudflare", "verify you are human", "verifying you are human",
    "please verify you are a human", "are you a robot", "are you human", "i'm not a robot",
    "press & hold", "press and hold to confirm", "access to this page has been denied",
    "pardon our interruption", "request unsuccessful. incapsula incident", "ddos protection by",
    "please complete the security check", "our systems have detected unusual traffic",
    "please enable js and disable any ad blocker", "why have i been blocked", "bot detection",
    "one more step", "enable javascript and cookies to continue",
)  # fmt: skip
# Markers in the HTML of challenge pages themselves.
_BOT_PAGE_MARKERS = (
    "cf-challenge", "cf_chl_opt", "challenge-form", "captcha-delivery.com", "px-captcha",
    "_incapsula_resource", "awswaf", "geo.captcha-delivery",
)  # fmt: skip
# Captcha widgets: also on ordinary login and contact forms, so they count only on very short pages.
_CAPTCHA_WIDGET_MARKERS = ("g-recaptcha", "recaptcha/api", "h-captcha", "hcaptcha.com",
                           "cf-turnstile", "challenges.cloudflare.com/turnstile")  # fmt: skip
_CONSENT_PHRASES = _phrases(
    "we value your privacy", "accept all cookies", "accept all", "reject all", "before you continue to",
    "before you continue", "we use cookies", "this site uses cookies", "this website uses cookies",
    "cookie settings", "manage cookies", "manage preferences", "your privacy choices", "consent",
    "legitimate interest", "our partners", "cookie policy", "wir verwenden cookies", "alle akzeptieren",
    "nous utilisons des cookies", "tout accepter", "utilizamos cookies", "aceptar todas", "accetta tutti",
    "alles accepteren",
)  # fmt: skip
_CONSENT_MARKERS = ("onetrust", "optanon", "qc-cmp2", "quantcast", "didomi", "consent.google.",
                    "consent.youtube.", "cookielaw.org", "sp_message_container", "trustarc",
                    "cookiebot", "usercentrics", "fc-consent-root", "iubenda", "osano")  # fmt: skip
_CONSENT_WORDS = re.compile(r"cookie|consent|privacy|partner|vendor|accept|reject|advertis|personali[sz]",
                            re.I)  # fmt: skip
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_WORD = re.compile(r"\w+")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'"})
_HTML_TYPES = ("text/html", "application/xhtml+xml", "")
_VISUAL_TAGS = re.compile(r"<(?:img|svg|canvas|video|picture|iframe)\b", re.I)


@dataclass
class Verdict:
    suspect: bool
    reason: str
    checks: dict = field(default_factory=dict)  # JSON-safe: stored in the snapshot's provenance


def word_count(text: str) -> int:
    """Words in the text; CJK scripts write no spaces, so two characters count as a word."""
    cjk = len(_CJK.findall(text))
    return len(_WORD.findall(_CJK.sub(" ", text))) + cjk // 2


def assess(
    *,
    http_status: int | None,
    title: str,
    text: str,
    html: str,
    screenshot_png: bytes | None,
    content_type: str = "text/html",
) -> Verdict:
    """Run every check; the most telling finding gives the reason a person reads."""
    words = word_count(text)
    checks: dict = {"http_status": http_status, "words": words}
    status_reason = _status_reason(http_status)
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in _HTML_TYPES:
        checks["skipped"] = f"text checks do not apply to {media_type}"
        return Verdict(suspect=bool(status_reason), reason=status_reason, checks=checks)
    title_n = " ".join(title.translate(_APOSTROPHES).split())
    head_n = " ".join(text[: TEXT_HEAD_CHARS * 2].translate(_APOSTROPHES).split())[:TEXT_HEAD_CHARS]
    page = _Html(html)
    checks["bot_wall"], bot_reason = _bot_wall(title_n, head_n, page, words)
    checks["error_page"], error_reason = _error_page(title_n, head_n, words)
    checks["consent_wall"], consent_reason = _consent_wall(title_n, text, page, words)
    checks["blank"], blank_reason, checks["screenshot"] = _blank(words, html, screenshot_png)
    # A bot wall usually comes with a 403 or 503, and says more than the status does.
    reasons = [r for r in (bot_reason, status_reason, error_reason, consent_reason, blank_reason) if r]
    return Verdict(suspect=bool(reasons), reason=reasons[0] if reasons else "", checks=checks)


class _Html:
    """The page's HTML, lowercased once and only if a check needs it (archives can be 50 MB)."""

    def __init__(self, html: str):
        self._html = html
        self._lowered: str | None = None

    def find(self, markers: tuple[str, ...]) -> str:
        if self._lowered is None:
            self._lowered = self._html.lower()
        return next((marker for marker in markers if marker in self._lowered), "")


def _status_reason(status: int | None) -> str:
    if status is None or status < 400:
        return ""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "an error"
    return f"The server answered {status} ({phrase})."


def _bot_wall(title: str, head: str, html: _Html, words: int) -> tuple[str, str]:
    found = ""
    if (match := _BOT_PHRASES.search(title)) and words < ERROR_TITLE_MAX_WORDS:
        found = match.group(0)
    elif (match := _BOT_PHRASES.search(head)) and words < WALL_MAX_WORDS:
        found = match.group(0)
    elif words < WALL_MAX_WORDS and (marker := html.find(_BOT_PAGE_MARKERS)):
        found = marker
    elif words < WALL_MARKER_MAX_WORDS and (marker := html.find(_CAPTCHA_WIDGET_MARKERS)):
        found = marker
    if not found:
        return "", ""
    return found, f"The page is a bot check or captcha (“{found}”), not the content: {words} words of text."


def _error_page(title: str, head: str, words: int) -> tuple[str, str]:
    found = ""
    bare_error_title = _ERROR_TITLE_ONLY.match(title) and any(c.isalnum() for c in title)
    if bare_error_title and words < ERROR_TITLE_MAX_WORDS:
        found = title
    elif (match := _ERROR_PHRASES.search(title)) and words < ERROR_TITLE_MAX_WORDS:
        found = match.group(0)
    elif (match := _ERROR_PHRASES.search(head)) and words < ERROR_TEXT_MAX_WORDS:
        found = match.group(0)
    if not found:
        return "", ""
    return found, f"The page looks like an error page (“{found}”) although the server answered normally."


def _consent_wall(title: str, text: str, html: _Html, words: int) -> tuple[str, str]:
    """A consent wall is a short page whose text is mostly about cookies and consent."""
    if words >= CONSENT_MAX_WORDS or words == 0:
        return "", ""
    phrase = _CONSENT_PHRASES.search(text) or _CONSENT_PHRASES.search(title)
    marker = html.find(_CONSENT_MARKERS)
    if phrase is None or (not marker and len(set(_CONSENT_PHRASES.findall(text.lower()))) < 2):
        return "", ""
    consent_words = sum(word_count(line) for line in text.splitlines() if _CONSENT_WORDS.search(line))
    if consent_words / words < CONSENT_MIN_SHARE:
        return "", ""
    found = phrase.group(0)
    return found, f"The page shows a cookie or consent wall (“{found}”) instead of the content."


def _blank(words: int, html: str, screenshot_png: bytes | None) -> tuple[bool, str, dict]:
    """Almost no text and a screenshot of one colour. A photo with no text is not blank."""
    if words > BLANK_MAX_WORDS:
        return False, "", {}  # decoding a tall full-page PNG is the costly part: skip it when we can
    if screenshot_png is None:
        blank = words == 0 and not _VISUAL_TAGS.search(html)
        reason = "The page looks blank: no text and nothing to show." if blank else ""
        return blank, reason, {"available": False}
    stats = screenshot_stats(screenshot_png)
    if "error" in stats or stats["marked_screens"] >= MAX_MARKED_SCREENS:
        return False, "", stats
    amount = "no text" if words == 0 else f"{words} word{'s' if words != 1 else ''} of text"
    return True, f"The page looks blank: {amount} and the screenshot is one colour.", stats


def screenshot_stats(png: bytes) -> dict:
    """How much of the screenshot differs from its background, in screens (width × 0.625 width).

    Counted on every pixel: a downscaled copy would average thin text into the background.
    """
    try:
        with Image.open(io.BytesIO(png)) as image:
            width, height = image.size
            histogram = image.convert("L").histogram()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        return {"error": f"screenshot unreadable: {exc}"[:200]}
    dominant = max(range(256), key=histogram.__getitem__)
    background = sum(histogram[max(0, dominant - GREY_TOLERANCE) : dominant + GREY_TOLERANCE + 1])
    return {
        "dominant_grey": dominant,
        "dominant_share": round(background / (width * height), 4),
        "marked_screens": round((width * height - background) / (width * width * 0.625), 4),
    }
