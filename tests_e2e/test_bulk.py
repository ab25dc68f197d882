"""Bulk actions on the link list: select with the checkboxes, pick an action, apply."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .helpers import flash, link_item, link_items

pytestmark = pytest.mark.browser


@pytest.fixture
def three_links(alice, make_link):
    make_link(alice, url="https://example.com/alpha", title="Alpha", tags=["old"])
    make_link(alice, url="https://example.com/beta", title="Beta")
    make_link(alice, url="https://example.com/gamma", title="Gamma")


def test_add_tags_to_two_selected_links(sign_in, page: Page, alice, three_links):
    sign_in(page, alice)
    bar = page.locator("[data-bulkbar]")
    expect(bar).to_be_hidden()

    page.get_by_role("checkbox", name="Select Alpha").check()
    expect(bar).to_be_visible()
    expect(bar.locator("[data-selected-count]")).to_have_text("1 selected")
    page.get_by_role("checkbox", name="Select Beta").check()
    expect(bar.locator("[data-selected-count]")).to_have_text("2 selected")

    bar.get_by_label("Bulk action", exact=True).select_option(label="Add tags")
    bar.get_by_label("Tags for bulk action").fill("later, team")
    bar.get_by_role("button", name="Apply").click()

    expect(flash(page)).to_have_text("2 links updated.")
    expect(link_item(page, "Alpha").locator("a.chip")).to_have_text(["#later", "#old", "#team"])
    expect(link_item(page, "Beta").locator("a.chip")).to_have_text(["#later", "#team"])
    expect(link_item(page, "Gamma").locator("a.chip")).to_have_count(0)
    expect(bar).to_be_hidden()
    expect(page.locator("input[data-select]:checked")).to_have_count(0)


def test_bulk_delete_asks_first(sign_in, page: Page, alice, three_links):
    sign_in(page, alice)
    bar = page.locator("[data-bulkbar]")
    page.get_by_role("checkbox", name="Select Gamma").check()
    bar.get_by_label("Bulk action", exact=True).select_option(label="Delete")

    dialogs = []

    def answer(dialog, accept):
        dialogs.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    # Cancelled: nothing happens, the selection stays.
    page.once("dialog", lambda d: answer(d, accept=False))
    bar.get_by_role("button", name="Apply").click()
    expect(bar).to_be_visible()
    expect(link_items(page)).to_have_count(3)

    # Confirmed: only the selected link goes.
    page.once("dialog", lambda d: answer(d, accept=True))
    bar.get_by_role("button", name="Apply").click()
    expect(flash(page)).to_have_text("1 link updated.")
    expect(link_items(page).locator("a.link-title")).to_have_text(["Beta", "Alpha"])
    assert dialogs == ["Delete the selected links?", "Delete the selected links?"]
