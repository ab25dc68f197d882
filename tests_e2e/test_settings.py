"""Account settings: API tokens (shown once, usable, revocable) and the training consent switch."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from .helpers import flash

pytestmark = pytest.mark.browser

CONSENT_LABEL = "Let my tags help train the shared tag model"


def open_settings(page: Page, username: str) -> None:
    nav = page.get_by_role("navigation")
    nav.locator("details.dropdown summary", has_text=username).click()
    nav.get_by_role("link", name="Settings & API tokens").click()
    page.wait_for_url("**/account/settings/")


def api_status(base_url: str, key: str) -> tuple[int, object]:
    """Call the API with the token only (no browser cookies), as a script would."""
    req = urllib.request.Request(f"{base_url}/api/links/", headers={"Authorization": f"Token {key}"})
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_api_token_is_shown_once_works_and_can_be_revoked(sign_in, page: Page, alice, live_server):
    sign_in(page, alice)
    open_settings(page, "alice")
    tokens = page.locator("#tokens")
    expect(tokens.locator("table")).to_have_count(0)

    tokens.get_by_label("Token name").fill("backup script")
    tokens.get_by_role("button", name="Create token").click()

    new_token = page.get_by_test_id("new-token")
    expect(new_token).to_be_visible()
    expect(new_token).to_contain_text("it is not shown again")
    key = new_token.get_by_label("New token").input_value()
    assert re.fullmatch(r"[0-9a-f]{40}", key), key
    row = tokens.locator("tbody tr", has_text="backup script")
    expect(row).to_have_count(1)
    expect(row.locator("code")).to_have_text(f"{key[:8]}…")
    expect(row).to_contain_text("never")

    # The key works for the API.
    status, body = api_status(live_server.url, key)
    assert status == 200, body

    # Reloading does not show the key again; the token is listed, now with a last use.
    page.reload()
    expect(page.get_by_test_id("new-token")).to_have_count(0)
    assert key not in page.content()
    expect(row).to_have_count(1)
    expect(row).not_to_contain_text("never")

    # Revoke it: the row says so, and the key stops working.
    row.get_by_role("button", name="Revoke").click()
    expect(flash(page)).to_have_text("Token “backup script” revoked.")
    expect(row).to_contain_text("revoked")
    expect(row.get_by_role("button", name="Revoke")).to_have_count(0)
    status, _ = api_status(live_server.url, key)
    assert status == 401


def test_training_consent_switch_shows_on_and_off(sign_in, page: Page, alice):
    sign_in(page, alice, "/account/settings/")
    consent = page.locator("#consent")
    status = page.get_by_test_id("consent-status")
    switch = consent.get_by_role("switch", name=CONSENT_LABEL)

    # Off by default.
    expect(status.locator(".badge")).to_have_text("Off")
    expect(status).to_contain_text("not used to train")
    expect(switch).not_to_be_checked()

    switch.check()
    consent.get_by_role("button", name="Save").click()
    expect(flash(page)).to_have_text("Your tags now help train the shared model.")
    expect(status.locator(".badge")).to_have_text("On")
    expect(status).to_contain_text("help train the model")
    expect(switch).to_be_checked()

    page.reload()  # kept, not just shown once
    expect(status.locator(".badge")).to_have_text("On")
    expect(switch).to_be_checked()

    switch.uncheck()
    consent.get_by_role("button", name="Save").click()
    expect(flash(page)).to_have_text("Your tags are no longer used to train the shared model.")
    expect(status.locator(".badge")).to_have_text("Off")
    expect(switch).not_to_be_checked()
