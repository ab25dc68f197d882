"""Snapshots in the UI: save a link, watch the capture finish on a real worker, open the
screenshot and the archived page, re-snapshot, and compare the two versions' text."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.snapshots,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def test_save_watch_open_resnapshot_and_diff(page: Page, alice, sign_in, fixture_site, start_worker):
    start_worker()
    sign_in(page, alice, "/links/new/")
    form = page.locator("main form")
    form.get_by_label("URL").fill(fixture_site("/changing"))
    form.get_by_label("Tags").fill("archive")
    page.get_by_test_id("save-link").click()

    # The page polls the snapshot until the worker has captured it.
    panel = page.get_by_test_id("snapshot-panel")
    expect(panel).to_be_visible()
    expect(panel.get_by_test_id("snapshot-status")).to_have_text("captured", timeout=90_000)
    expect(panel.get_by_test_id("snapshot-thumbnail")).to_be_visible()
    assert page.evaluate("() => document.querySelector('[data-testid=snapshot-thumbnail]').naturalWidth") > 0

    # The screenshot opens, and so does the archived page, sandboxed.
    with page.expect_popup() as popup:
        panel.get_by_role("link", name="Screenshot").click()
    shot = popup.value
    shot.wait_for_load_state()
    assert shot.evaluate("() => document.images[0] && document.images[0].naturalWidth") > 0
    shot.close()

    panel.get_by_role("link", name="Archived page").click()
    frame = page.frame_locator("[data-testid=archive-frame]")
    expect(frame.locator("h1")).to_have_text("Changing")
    expect(frame.locator("body")).to_contain_text("version number 1")
    page.go_back()

    # Re-snapshot: a second version, then the text diff between the two.
    page.get_by_test_id("snapshot-now").click()
    expect(page.get_by_test_id("snapshot-panel").get_by_test_id("snapshot-status")).to_have_text(
        "captured", timeout=90_000
    )
    expect(page.get_by_test_id("snapshot-history").locator("tbody tr")).to_have_count(2)
    page.get_by_test_id("diff-submit").click()
    expect(page.get_by_test_id("diff-summary")).to_contain_text("v1 → v2")
    diff = page.get_by_test_id("diff")
    expect(diff.locator(".diff-removed")).to_contain_text("version number 1")
    expect(diff.locator(".diff-added")).to_contain_text("version number 2")
