"""What many browser tests look at: the link list, flash messages, the page width."""

from __future__ import annotations

from playwright.sync_api import Page

# The password the root conftest's ``make_user`` gives every user.
PASSWORD = "correct horse battery"


def link_items(page: Page):
    """The rows of the link list (not the empty-state row)."""
    return page.get_by_test_id("link-list").locator("li.link")


def link_item(page: Page, title: str):
    """The row of the link list whose title is ``title``."""
    return link_items(page).filter(has=page.locator("a.link-title", has_text=title))


def flash(page: Page):
    return page.locator("main .flash[role=status]")


def horizontal_overflow(page: Page) -> dict:
    """How wide the document is compared with the window (no horizontal scroll when equal)."""
    return page.evaluate(
        "() => ({scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth})"
    )
