"""Browser tests: a real Chromium, driven by Playwright, against pytest-django's live server.

One browser for the session; a fresh context and page for every test. When a test fails, a
full-page screenshot of each of its pages goes to ``tests_e2e/artifacts/<test-name>.png``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

# Playwright's sync API keeps an asyncio event loop in this thread, so Django would refuse ORM
# calls made from it (SynchronousOnlyOperation) although no coroutine makes them.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

import pytest
from playwright.sync_api import expect

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
DEFAULT_TIMEOUT_MS = 15_000
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]

expect.set_options(timeout=DEFAULT_TIMEOUT_MS)

_REPORTS = pytest.StashKey[dict]()


def _chromium_path() -> str | None:
    """E2E_CHROMIUM_PATH, else the system's full Chromium (a person's browser, not the renderer's
    headless shell), else CHROMIUM_PATH, else None (Playwright's own download)."""
    path = os.environ.get("E2E_CHROMIUM_PATH")
    if path:
        return path
    for candidate in ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"):
        if Path(candidate).exists():
            return candidate
    return os.environ.get("CHROMIUM_PATH") or None


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so fixtures can tell whether the test failed."""
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


@pytest.fixture(scope="session")
def browser(playwright_session):
    browser = playwright_session.chromium.launch(
        executable_path=_chromium_path(), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture
def new_page(browser, live_server, request):
    """Open a page in a fresh browser context; keyword arguments go to ``new_context``.

    Relative URLs (``page.goto("/links/")``) go to the live server. The test fails if a page
    throws an uncaught JavaScript error or a static file does not load.
    """
    contexts = []
    pages = []
    problems: list[str] = []

    def on_response(response):
        if "/static/" in response.url and response.status >= 400:
            problems.append(f"{response.url} answered {response.status}")

    def make(**context_options):
        context = browser.new_context(base_url=live_server.url, **context_options)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: problems.append(f"JavaScript error on {page.url}: {exc}"))
        page.on("response", on_response)
        pages.append(page)
        return page

    yield make

    reports = request.node.stash.get(_REPORTS, {})
    failed = any(r.failed for r in reports.values())
    if failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.name).strip("_")
        for i, page in enumerate(pages):
            suffix = "" if i == 0 else f"-{i + 1}"
            try:
                page.screenshot(path=str(ARTIFACTS / f"{name}{suffix}.png"), full_page=True)
            except Exception as exc:  # a crashed page must not hide the test's own failure
                print(f"screenshot of {page.url} failed: {exc}")
    for context in contexts:
        context.close()
    if not failed:
        assert not problems, "Problems in the browser:\n" + "\n".join(problems)


@pytest.fixture
def page(new_page):
    """A desktop-sized page in a fresh context."""
    return new_page()


@pytest.fixture
def sign_in(live_server):
    """Give a page's browser the session cookie of ``user`` (no login form), then open ``path``.

    Logging in through the form is tested in test_auth.py; other tests skip it for speed.
    """
    from django.conf import settings
    from django.test import Client

    def sign_in(page, user, path: str = "/links/"):
        client = Client()
        client.force_login(user)
        page.context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": live_server.url,
                }
            ]
        )
        response = page.goto(path)
        expect(page.locator("nav details.dropdown summary")).to_have_text(user.get_username())
        return response

    return sign_in
