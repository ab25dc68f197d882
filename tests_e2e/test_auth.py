"""Logging in and out: pages need a login, bad passwords are refused, logging out works."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .helpers import PASSWORD

pytestmark = pytest.mark.browser


def test_login_required_wrong_password_and_logout(page: Page, alice):
    page.goto("/links/")
    page.wait_for_url("**/login/?next=/links/")
    form = page.locator("main form")

    form.get_by_label("Username").fill("alice")
    form.get_by_label("Password").fill("not my password")
    form.get_by_role("button", name="Log in").click()
    expect(form.locator(".error")).to_contain_text("Please enter a correct username and password")

    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/links/")
    expect(page.get_by_test_id("link-list")).to_contain_text("No links yet.")

    nav = page.get_by_role("navigation")
    nav.locator("details.dropdown summary", has_text="alice").click()
    nav.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login/")
    expect(nav.get_by_role("link", name="Log in")).to_be_visible()

    page.goto("/links/")
    page.wait_for_url("**/login/?next=/links/")
