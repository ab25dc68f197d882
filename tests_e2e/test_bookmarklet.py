"""The bookmarklet: its target page is prefilled, and saving goes back to the saved page."""

from __future__ import annotations

import html
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect

from .helpers import link_item

pytestmark = pytest.mark.browser

ARTICLE_URL = "https://example.com/articles/owls"


def test_bookmarklet_target_is_prefilled_and_returns_to_the_page(sign_in, page: Page, alice, live_server):
    target = f"{live_server.url}/healthz"
    sign_in(page, alice, "/links/new/?" + urlencode({"bookmarklet": "1", "url": target, "title": "Health"}))

    form = page.locator("main form")
    expect(form.get_by_label("URL")).to_have_value(target)
    expect(form.get_by_label("Title")).to_have_value("Health")
    form.get_by_label("Tags").fill("ops")
    page.get_by_test_id("save-link").click()

    page.wait_for_url(target)
    expect(page.locator("body")).to_contain_text('"status": "ok"')

    page.goto("/links/")
    expect(link_item(page, "Health").locator("a.chip")).to_have_text(["#ops"])


def test_bookmarklet_from_settings_saves_the_page_it_is_clicked_on(sign_in, page: Page, alice):
    sign_in(page, alice, "/account/settings/")
    bookmarklet = page.locator("#bookmarklet").get_by_role("button", name="Save to LinkHub")
    code = bookmarklet.get_attribute("href")
    assert code.startswith("javascript:")

    # Another site, with the bookmarklet in the "bookmarks bar" (served by the test, no network).
    article = (
        "<!doctype html><html><head><title>All about owls</title>"
        '<meta name="description" content="Owls are birds &amp; they hunt at night."></head>'
        "<body><h1>Owls</h1>"
        f'<a id="bookmarklet" href="{html.escape(code, quote=True)}">Save</a></body></html>'
    )
    page.context.route(
        "https://example.com/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body=article),
    )
    page.goto(ARTICLE_URL)
    page.locator("#bookmarklet").click()

    page.wait_for_url("**/links/new/?bookmarklet=1*")
    form = page.locator("main form")
    expect(form.get_by_label("URL")).to_have_value(ARTICLE_URL)
    expect(form.get_by_label("Title")).to_have_value("All about owls")
    expect(form.get_by_label("Description")).to_have_value("Owls are birds & they hunt at night.")
    form.get_by_label("Tags").fill("birds")
    page.get_by_test_id("save-link").click()

    page.wait_for_url(ARTICLE_URL)
    expect(page.get_by_role("heading", name="Owls")).to_be_visible()

    page.goto("/links/")
    item = link_item(page, "All about owls")
    expect(item.locator("a.chip")).to_have_text(["#birds"])
    expect(item.locator(".link-desc")).to_have_text("Owls are birds & they hunt at night.")
