"""The core journey: sign up, save links with tags, find them again by tag and by search."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from .helpers import PASSWORD, flash, link_item, link_items

pytestmark = [pytest.mark.browser, pytest.mark.smoke]

RUST_TITLE = "The Rust Programming Language"
PYTHON_TITLE = "The Python Tutorial"


def save_link(page: Page, *, url: str, title: str, tags: str) -> None:
    form = page.locator("main form")
    form.get_by_label("URL").fill(url)
    form.get_by_label("Title").fill(title)
    form.get_by_label("Tags").fill(tags)
    page.get_by_test_id("save-link").click()
    expect(page.locator("h1.link-heading")).to_have_text(title)
    expect(flash(page)).to_have_text("Link saved.")


def search(page: Page, words: str) -> None:
    box = page.get_by_role("searchbox", name="Search")
    box.fill(words)
    box.press("Enter")
    page.wait_for_url(lambda url: parse_qs(urlsplit(url).query).get("q") == [words])


def test_sign_up_save_links_then_filter_by_tag_and_search(page: Page):
    # Sign up.
    page.goto("/")
    page.get_by_role("navigation").get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    form = page.locator("main form")
    form.get_by_label("Username").fill("carol")
    form.get_by_label("Email").fill("carol@example.com")
    form.get_by_label("Password", exact=True).fill(PASSWORD)
    form.get_by_label("Password confirmation").fill(PASSWORD)
    form.get_by_role("button", name="Sign up").click()

    # Signed in, on the "save a link" page.
    page.wait_for_url("**/links/new/")
    expect(flash(page)).to_contain_text("Welcome to LinkHub")
    expect(page.locator("nav details.dropdown summary")).to_have_text("carol")

    save_link(page, url="https://example.com/rust-book", title=RUST_TITLE, tags="rust, books")
    detail_tags = page.locator("article header a.chip")
    expect(detail_tags).to_have_text(["#books", "#rust"])
    expect(
        page.locator("article header").get_by_role("link", name="https://example.com/rust-book")
    ).to_be_visible()

    page.get_by_test_id("nav-add").click()
    save_link(page, url="https://docs.python.org/3/tutorial/", title=PYTHON_TITLE, tags="python")
    expect(page.locator("article header a.chip")).to_have_text(["#python"])

    # Both links in the list, newest first, each with its tags.
    page.get_by_role("navigation").get_by_role("link", name="Links", exact=True).click()
    page.wait_for_url("**/links/")
    expect(link_items(page).locator("a.link-title")).to_have_text([PYTHON_TITLE, RUST_TITLE])
    expect(link_item(page, RUST_TITLE).locator("a.chip")).to_have_text(["#books", "#rust"])
    expect(link_item(page, PYTHON_TITLE).locator("a.chip")).to_have_text(["#python"])

    # A tag chip shows only the links with that tag.
    link_item(page, RUST_TITLE).get_by_role("link", name="#books").click()
    page.wait_for_url("**/links/?tag=books")
    expect(link_items(page).locator("a.link-title")).to_have_text([RUST_TITLE])
    expect(page.locator(".active-filters")).to_contain_text("1 link")
    expect(page.locator(".active-filters .chip")).to_have_text("#books")

    # And the other tag the other link.
    page.get_by_role("link", name="clear").click()
    page.wait_for_url("**/links/")
    page.get_by_role("complementary", name="Tags").get_by_role("link", name="#python").click()
    page.wait_for_url("**/links/?tag=python")
    expect(link_items(page).locator("a.link-title")).to_have_text([PYTHON_TITLE])
    page.get_by_role("link", name="clear").click()
    page.wait_for_url("**/links/")
    expect(link_items(page)).to_have_count(2)

    # A word from a title finds that link, and only it.
    search(page, "Programming")
    expect(link_items(page).locator("a.link-title")).to_have_text([RUST_TITLE])
    expect(page.get_by_role("searchbox", name="Search")).to_have_value("Programming")
    expect(page.locator(".active-filters")).to_contain_text("1 link matching “Programming”")

    search(page, "tutorial")
    expect(link_items(page).locator("a.link-title")).to_have_text([PYTHON_TITLE])

    # A word that matches nothing shows the empty state, with a way back.
    search(page, "kumquat")
    expect(link_items(page)).to_have_count(0)
    empty = page.get_by_test_id("link-list").locator("li.empty")
    expect(empty).to_contain_text("Nothing matches.")
    empty.get_by_role("link", name="Show all links").click()
    page.wait_for_url("**/links/")
    expect(link_items(page)).to_have_count(2)
