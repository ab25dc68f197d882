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


def test_training_consent_has_three_levels_and_keeps_the_choice(sign_in, page: Page, alice):
    sign_in(page, alice, "/account/settings/")
    consent = page.locator("#consent")
    status = page.get_by_test_id("consent-status")

    # A new account has the operator's default, "own": a personal model only.
    expect(status.locator(".badge")).to_have_text("own")
    expect(status).to_contain_text("my personal model only")
    expect(consent.get_by_role("radio", name="Own:")).to_be_checked()

    consent.get_by_role("radio", name="Shared:").check()
    consent.get_by_role("button", name="Save").click()
    expect(flash(page)).to_have_text(
        "Your links and decisions now train your personal model and the shared model."
    )
    expect(status.locator(".badge")).to_have_text("shared")
    page.reload()  # kept, not just shown once
    expect(consent.get_by_role("radio", name="Shared:")).to_be_checked()

    consent.get_by_role("radio", name="None:").check()
    consent.get_by_role("button", name="Save").click()
    expect(flash(page)).to_have_text("Your links and decisions no longer train any model.")
    expect(status.locator(".badge")).to_have_text("none")
    expect(consent.get_by_role("radio", name="None:")).to_be_checked()
