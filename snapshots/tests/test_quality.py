"""Suspect captures: blank pages, error pages, bot walls and consent walls, and their look-alikes."""

from __future__ import annotations

import base64
import io
import json
import os
from contextlib import nullcontext

import pytest
from PIL import Image, ImageDraw

from snapshots.quality import assess, word_count

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API in a test thread

LOREM = (
    "Gardeners have argued for centuries about the best time to plant tomatoes, and the answer depends "
    "on the soil, the light and the patience of the person holding the trowel. "
)


def long_text(words: int = 600) -> str:
    base = LOREM.split()
    return "\n".join(
        " ".join(base[i % len(base)] for i in range(start, start + 30)) for start in range(0, words, 30)
    )


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def white_page() -> bytes:
    return png(Image.new("RGB", (1280, 800), "white"))


def photo_page() -> bytes:
    """A page that is one big picture: smooth gradients in every direction, no text."""
    gradient = Image.linear_gradient("L").resize((1280, 800))
    radial = Image.radial_gradient("L").resize((1280, 800))
    return png(Image.merge("RGB", (gradient, radial, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT))))


def spinner_page() -> bytes:
    """White, with a small spinner and one short word: what an app shows before its data arrives."""
    image = Image.new("RGB", (1280, 800), "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse((620, 380, 660, 420), outline=(120, 120, 120), width=4)
    draw.text((610, 430), "Loading", fill=(60, 60, 60))
    return png(image)


def check(
    *, title: str = "", text: str = "", html: str = "", status: int | None = 200, shot=None, ctype="text/html"
):
    return assess(
        http_status=status, title=title, text=text, html=html, screenshot_png=shot, content_type=ctype
    )


def test_blank_page_is_suspect_with_a_readable_reason():
    verdict = check(title="App", text="Loading, please wait", html='<div id="root"></div>', shot=white_page())
    assert verdict.suspect
    assert verdict.reason == "The page looks blank: 3 words of text and the screenshot is one colour."
    assert verdict.checks["blank"] and verdict.checks["screenshot"]["marked_screens"] == 0


def test_nearly_blank_page_with_a_spinner_is_suspect():
    assert check(text="Loading", shot=spinner_page()).checks["blank"]


def test_a_page_that_is_one_big_image_is_not_blank():
    verdict = check(
        title="IMG_2031.jpg", text="", html='<img src="data:image/jpeg;base64,AAAA">', shot=photo_page()
    )
    assert not verdict.suspect
    assert verdict.checks["screenshot"]["marked_screens"] > 0.5


def test_a_tall_white_page_with_a_few_pictures_is_not_blank():
    """Two photos far down a long page are content, though they cover a small share of it."""
    page = Image.new("RGB", (1280, 5400), "white")
    photo = Image.open(io.BytesIO(photo_page())).resize((320, 200))
    page.paste(photo, (40, 3200))
    page.paste(photo, (40, 5100))
    verdict = check(
        title="Lazy images", text="Lazy images\nImages load when they come into view.", shot=png(page)
    )
    assert not verdict.suspect, verdict.reason
    assert verdict.checks["screenshot"]["dominant_share"] > 0.97  # why a share of the page would not do


def test_blank_without_a_screenshot_needs_no_text_and_no_pictures():
    assert check(text="", html="<div></div>").reason == "The page looks blank: no text and nothing to show."
    assert not check(text="", html='<svg viewBox="0 0 10 10"></svg>').suspect


def test_unreadable_screenshot_is_reported_not_raised():
    verdict = check(text="", html="<p></p>", shot=b"not a png")
    assert not verdict.checks["blank"] and "unreadable" in verdict.checks["screenshot"]["error"]


@pytest.mark.parametrize(
    ("title", "text"),
    [
        ("404 Not Found", "404 Not Found\nnginx/1.24.0"),
        ("Page not found | Example Shop", "Sorry, we could not find that page. " * 8 + long_text(60)),
        ("Not Found", "The requested URL was not found on this server."),
        ("", "Internal Server Error\nThe server encountered an internal error and was unable to complete"),
        (
            "Apache2 Debian Default Page: It works",
            "Apache2 Debian Default Page\nIt works!\nThis is the default",
        ),
        ("Welcome to nginx!", "Welcome to nginx!\nIf you see this page, the nginx web server is installed"),
        ("example.com", "This site can’t be reached\nexample.com’s server IP address could not be found."),
        ("Seite nicht gefunden – Beispiel GmbH", "Die Seite existiert leider nicht mehr."),
        ("403 Forbidden", "Forbidden\nYou don't have permission to access this resource."),
    ],
)
def test_error_pages_served_with_200_are_suspect(title, text):
    verdict = check(title=title, text=text)
    assert verdict.suspect and verdict.checks["error_page"]
    assert verdict.reason.startswith("The page looks like an error page")


def test_an_article_about_http_errors_is_not_an_error_page():
    text = "The HTTP 404 Not Found client error response code indicates that the server cannot find it.\n"
    verdict = check(title="404 Not Found - HTTP | MDN", text=text + long_text(400))
    assert not verdict.suspect, verdict.reason


def test_error_status_is_suspect_and_named():
    verdict = check(status=500, title="Home", text=long_text())
    assert verdict.suspect and verdict.reason == "The server answered 500 (Internal Server Error)."


@pytest.mark.parametrize(
    ("title", "text", "html"),
    [
        (
            "Just a moment...",
            "Checking if the site connection is secure\nexample.com needs to review your connection",
            "<div id='challenge-stage'></div><script>window._cf_chl_opt = {}</script>",
        ),
        ("Attention Required! | Cloudflare", "Sorry, you have been blocked\nWhy have I been blocked?", ""),
        (
            "Access to this page has been denied",
            "Press & Hold to confirm you are a human (and not a bot).",
            "",
        ),
        (
            "shop.example",
            "",
            '<a class="linkhub-frame" href="https://geo.captcha-delivery.com/captcha/?x=1">',
        ),
        (
            "Verification",
            "One last check before you go on.",
            '<div class="h-captcha" data-sitekey="k"></div>',
        ),
        ("Security check", "Are you a robot? Tick the box below.", ""),
    ],
)
def test_bot_walls_are_suspect(title, text, html):
    verdict = check(status=403, title=title, text=text, html=html)
    assert verdict.suspect and verdict.checks["bot_wall"]
    # The wall explains the 403 better than the status does.
    assert verdict.reason.startswith("The page is a bot check or captcha")


def test_a_long_article_about_captchas_is_not_a_bot_wall():
    text = "Why do sites ask: are you a robot? Verify you are human, they say.\n" + long_text(700)
    html = '<form id="comments"><div class="g-recaptcha" data-sitekey="k"></div></form>'
    verdict = check(title="How CAPTCHAs work and why they ask if you are a robot", text=text, html=html)
    assert not verdict.suspect, verdict.reason
    assert verdict.checks["bot_wall"] == ""


@pytest.mark.parametrize(
    ("title", "text", "html"),
    [
        (
            "Before you continue to Google",
            "Before you continue to Google\nWe use cookies and data to deliver and maintain Google services\n"
            "If you choose to Accept all, we will also use cookies and data to develop new services\n"
            "Reject all\nAccept all\nMore options",
            '<form action="https://consent.google.com/save">',
        ),
        (
            "News site",
            "We value your privacy\nWe and our partners store and access information on your device, such as "
            "cookies, for personalised advertising and content.\nAccept all\nReject all\nManage preferences",
            '<div id="onetrust-banner-sdk" class="otFlat"></div>',
        ),
    ],
)
def test_consent_walls_are_suspect(title, text, html):
    verdict = check(title=title, text=text, html=html)
    assert verdict.suspect and verdict.checks["consent_wall"]
    assert verdict.reason.startswith("The page shows a cookie or consent wall")


def test_a_long_article_with_a_cookie_banner_is_not_a_consent_wall():
    banner = "\nWe value your privacy. We use cookies. Accept all cookies or Reject all. Cookie settings."
    verdict = check(
        title="Keeping tomatoes", text=long_text(500) + banner, html='<div id="onetrust-banner-sdk">'
    )
    assert not verdict.suspect, verdict.reason


def test_a_short_page_that_mentions_cookies_once_is_not_a_consent_wall():
    text = "Chocolate chip cookies\nMix butter and sugar, add flour and chips, bake for twelve minutes.\n" * 3
    assert not check(title="Cookies recipe", text=text + "We use cookies.", html="<p>").suspect


def test_non_html_captures_skip_the_text_checks():
    pdf = check(title="404 Not Found", text="404 Not Found", shot=white_page(), ctype="application/pdf")
    image = check(title="", text="", shot=white_page(), ctype="image/png")
    assert not pdf.suspect and not image.suspect
    assert image.checks["skipped"] == "text checks do not apply to image/png"
    assert (
        check(status=404, text="", ctype="application/pdf").reason == "The server answered 404 (Not Found)."
    )


def test_cjk_text_counts_as_words():
    japanese = "庭でトマトを育てるには毎日六時間の日光が必要です。" * 40
    assert word_count(japanese) > 300
    assert not check(title="トマトの育て方", text=japanese, shot=white_page()).suspect


def test_checks_are_json_serialisable():
    verdict = check(status=403, title="Just a moment...", text="Checking your browser", shot=white_page())
    assert json.loads(json.dumps(verdict.checks))["bot_wall"] == "Just a moment..."


@pytest.mark.browser
def test_real_screenshots_of_blank_and_image_pages(playwright_session):
    """The thresholds hold on what Chromium actually paints, antialiased text included."""

    executable = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
    picture_uri = "data:image/png;base64," + base64.b64encode(photo_page()).decode()
    with nullcontext(playwright_session) as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=args)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.set_content("<body><p style='text-align:center;margin-top:40vh'>Loading…</p></body>")
            loading = page.screenshot(full_page=True)
            page.set_content(f"<body style='margin:0'><img src='{picture_uri}' style='width:100%'></body>")
            photo = page.screenshot(full_page=True)
        finally:
            browser.close()
    assert check(text="Loading…", html="<p>Loading…</p>", shot=loading).checks["blank"]
    assert not check(text="", html="<img>", shot=photo).suspect
