"""One link's page: edit it, mark it read, delete it; saving a URL twice keeps one link."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .helpers import flash, link_item, link_items

pytestmark = pytest.mark.browser


def test_edit_mark_read_and_delete_a_link(sign_in, page: Page, alice, make_link):
    link = make_link(alice, url="https://example.com/draft", title="Draft title", tags=["todo"])
    sign_in(page, alice)
    link_item(page, "Draft title").get_by_role("link", name="details").click()
    page.wait_for_url(f"**/links/{link.pk}/")
    article = page.locator("main article")
    expect(article.locator("dl.meta")).to_contain_text("unread")

    # Edit: the form shows what is stored; the changes are saved.
    article.get_by_role("button", name="Edit").click()
    form = page.locator("main form")
    expect(form.get_by_label("Title")).to_have_value("Draft title")
    expect(form.get_by_label("Tags")).to_have_value("todo")
    form.get_by_label("Title").fill("Final title")
    form.get_by_label("Tags").fill("done, reference")
    form.get_by_label("Notes").fill("Worth a second read.")
    page.get_by_test_id("save-link").click()
    expect(flash(page)).to_have_text("Link updated.")
    expect(page.locator("h1.link-heading")).to_have_text("Final title")
    expect(article.locator("header a.chip")).to_have_text(["#done", "#reference"])
    expect(article).to_contain_text("Worth a second read.")

    # Mark read, and back.
    article.get_by_role("button", name="Mark read").click()
    expect(article.locator("dl.meta")).to_contain_text("read")
    expect(article.locator("dl.meta")).not_to_contain_text("unread")
    expect(article.get_by_role("button", name="Mark unread")).to_be_visible()

    # Delete, after a confirmation page.
    article.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", name="Delete this link?")).to_be_visible()
    page.locator("main form").get_by_role("button", name="Delete").click()
    page.wait_for_url("**/links/")
    expect(flash(page)).to_have_text("Link deleted.")
    expect(link_items(page)).to_have_count(0)


def test_saving_a_url_again_keeps_one_link_and_adds_the_tags(sign_in, page: Page, alice, make_link):
    make_link(alice, url="https://example.com/guide", title="The guide", tags=["docs"])
    sign_in(page, alice)
    page.get_by_test_id("nav-add").click()
    form = page.locator("main form")
    # The same page, as shared with a tracking parameter and a fragment.
    form.get_by_label("URL").fill("https://EXAMPLE.com/guide?utm_source=newsletter#intro")
    form.get_by_label("Tags").fill("howto")
    page.get_by_test_id("save-link").click()

    expect(flash(page)).to_contain_text("You saved this link before")
    expect(page.locator("h1.link-heading")).to_have_text("The guide")
    expect(page.locator("main article header a.chip")).to_have_text(["#docs", "#howto"])
    page.goto("/links/")
    expect(link_items(page)).to_have_count(1)


def test_invalid_url_is_refused_with_a_message(sign_in, page: Page, alice):
    sign_in(page, alice, "/links/new/")
    form = page.locator("main form")
    form.get_by_label("URL").fill("javascript:alert(1)")
    form.get_by_label("Title").fill("Sneaky")
    page.get_by_test_id("save-link").click()
    expect(form.locator(".error[role=alert]")).to_contain_text("Only http and https URLs can be saved")
    expect(form.get_by_label("Title")).to_have_value("Sneaky")  # what was typed is kept
    page.goto("/links/")
    expect(link_items(page)).to_have_count(0)
