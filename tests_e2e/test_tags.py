"""The tags page: rename, merge and delete tags; links keep their other tags."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .helpers import flash, link_item, link_items

pytestmark = pytest.mark.browser


def tag_rows(page: Page):
    return page.get_by_test_id("tag-table").locator("tbody tr")


def test_rename_merge_and_delete_tags(sign_in, page: Page, alice, make_link):
    make_link(alice, url="https://example.com/one", title="One", tags=["py", "web"])
    make_link(alice, url="https://example.com/two", title="Two", tags=["python3"])
    make_link(alice, url="https://example.com/three", title="Three", tags=["misc"])
    sign_in(page, alice)
    page.get_by_role("navigation").get_by_role("link", name="Tags", exact=True).click()
    page.wait_for_url("**/tags/")
    expect(tag_rows(page).locator("a.chip")).to_have_text(["#misc", "#py", "#python3", "#web"])

    # Rename.
    page.get_by_label("New name for py", exact=True).fill("python")
    tag_rows(page).filter(has=page.get_by_label("New name for py", exact=True)).get_by_role(
        "button", name="Rename"
    ).click()
    expect(flash(page)).to_have_text("“py” is now “python”.")
    expect(tag_rows(page).locator("a.chip")).to_have_text(["#misc", "#python", "#python3", "#web"])

    # Merge two into one.
    page.get_by_role("checkbox", name="Select python", exact=True).check()
    page.get_by_role("checkbox", name="Select python3", exact=True).check()
    page.get_by_label("Merge into tag").fill("python")
    page.get_by_role("button", name="Merge selected").click()
    expect(flash(page)).to_have_text("Merged 2 tag(s) into “python”.")
    expect(tag_rows(page).locator("a.chip")).to_have_text(["#misc", "#python", "#web"])
    expect(tag_rows(page).filter(has_text="#python").locator("td").nth(2)).to_have_text("2")

    # Delete, after confirming; the link stays.
    messages = []
    page.once("dialog", lambda d: (messages.append(d.message), d.accept()))
    tag_rows(page).filter(has_text="#misc").get_by_role("button", name="Delete").click()
    expect(flash(page)).to_have_text("Tag “misc” deleted; its links were kept.")
    assert messages == ["Delete the tag misc? Its links are kept."]
    expect(tag_rows(page).locator("a.chip")).to_have_text(["#python", "#web"])

    page.goto("/links/")
    expect(link_items(page)).to_have_count(3)
    expect(link_item(page, "One").locator("a.chip")).to_have_text(["#python", "#web"])
    expect(link_item(page, "Two").locator("a.chip")).to_have_text(["#python"])
    expect(link_item(page, "Three").locator("a.chip")).to_have_count(0)
