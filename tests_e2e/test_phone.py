"""On a phone: the pages fit the screen (no sideways scrolling) and saving a link works."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .helpers import flash, horizontal_overflow, link_item, link_items

pytestmark = pytest.mark.browser

PHONE_WIDTH, PHONE_HEIGHT = 390, 844
PHONE = {
    "viewport": {"width": PHONE_WIDTH, "height": PHONE_HEIGHT},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 3,
}
LONG_URL = "https://example.com/" + "a-very-long-path-segment-without-spaces-" * 6 + "?q=" + "x" * 80


def assert_fits_the_screen(page: Page) -> None:
    dims = horizontal_overflow(page)
    assert dims["innerWidth"] == PHONE_WIDTH, f"{page.url}: the page was zoomed out to fit: {dims}"
    assert dims["scrollWidth"] <= dims["innerWidth"], f"{page.url} scrolls sideways: {dims}"


@pytest.fixture
def phone_page(new_page) -> Page:
    return new_page(**PHONE)


def test_link_list_fits_a_phone_and_a_link_can_be_saved(sign_in, phone_page: Page, alice, make_link):
    page = phone_page
    # Content that is hard to fit: an untitled link (the URL is its title), a long unbroken
    # title, many tags and a description.
    make_link(alice, url=LONG_URL, tags=["reading", "later"])
    make_link(
        alice,
        url="https://example.org/words",
        title="Supercalifragilisticexpialidocious" * 3,
        description="A description " * 30,
        tags=[f"topic-{i}" for i in range(12)],
    )
    sign_in(page, alice)

    expect(link_items(page)).to_have_count(2)
    assert_fits_the_screen(page)

    # Selecting a link shows the bulk bar, which must fit too.
    link_items(page).first.locator("input[data-select]").check()
    expect(page.locator("[data-bulkbar]")).to_be_visible()
    assert_fits_the_screen(page)

    # Save a link from the phone.
    page.get_by_test_id("nav-add").tap()
    page.wait_for_url("**/links/new/")
    assert_fits_the_screen(page)
    form = page.locator("main form")
    form.get_by_label("URL").fill("https://example.net/phone-article")
    form.get_by_label("Title").fill("Read on the train")
    form.get_by_label("Tags").fill("commute")
    page.get_by_test_id("save-link").tap()
    expect(page.locator("h1.link-heading")).to_have_text("Read on the train")
    expect(flash(page)).to_have_text("Link saved.")
    assert_fits_the_screen(page)

    page.goto("/links/")
    expect(link_items(page)).to_have_count(3)
    expect(link_item(page, "Read on the train").locator("a.chip")).to_have_text(["#commute"])
    assert_fits_the_screen(page)

    # The detail page of the long URL wraps it instead of widening the page.
    link_items(page).filter(has_text="a-very-long-path").get_by_role("link", name="details").tap()
    page.wait_for_url("**/links/*/")
    assert_fits_the_screen(page)
