"""Importing a browser's bookmark export: progress, resulting links, and broken files."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .helpers import flash, link_item, link_items

pytestmark = pytest.mark.browser

BOOKMARKS = b"""<!DOCTYPE NETSCAPE-Bookmark-file-1>
<!-- This is an automatically generated file. -->
<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=UTF-8">
<TITLE>Bookmarks</TITLE>
<H1>Bookmarks</H1>
<DL><p>
    <DT><H3 ADD_DATE="1600000000">Dev</H3>
    <DL><p>
        <DT><H3>Python</H3>
        <DL><p>
            <DT><A HREF="https://docs.python.org/3/" ADD_DATE="1600000000" TAGS="x,y">Title &amp; more</A>
            <DD>desc
        </DL><p>
        <DT><A HREF="https://example.com/dev-page" ADD_DATE="1600000000">Dev page</A>
    </DL><p>
    <DT><A HREF="https://example.org/top" ADD_DATE="1600000000">Top level</A>
</DL><p>
"""

# A 1x1 PNG: what a person might pick by mistake.
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f"
    b"\x15\xc4\x89\x00\x00\x00\nIDATx\x9cc\x00\x01\x00\x00\x05\x00\x01\r\n-\xb4\x00\x00\x00\x00IEND"
    b"\xaeB`\x82"
)


def upload(page: Page, name: str, data: bytes, mime: str = "text/html") -> None:
    """Pick a file on the import page (already open) and submit it."""
    page.get_by_label("Bookmark file (HTML)").set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": data}]
    )
    page.get_by_test_id("import-submit").click()


def progress_fraction(card) -> float:
    return card.locator("progress[data-progress]").evaluate("p => p.value / p.max")


def test_import_finishes_and_links_appear_with_folder_tags(sign_in, page: Page, alice):
    sign_in(page, alice, "/import/")
    upload(page, "bookmarks.html", BOOKMARKS)

    expect(flash(page)).to_have_text("Importing 3 bookmarks from bookmarks.html.")
    cards = page.locator(".import-job")
    expect(cards).to_have_count(1)
    card = cards.first
    expect(card).to_have_attribute("data-status", "succeeded")
    expect(card.locator("[data-status-label]")).to_have_text("done")
    expect(card.locator("[data-counts]")).to_have_text("3 of 3 · 3 new · 0 already saved · 0 skipped")
    expect(card.locator("progress[data-progress]")).to_have_attribute("max", "3")
    assert progress_fraction(card) == 1

    page.get_by_role("navigation").get_by_role("link", name="Links", exact=True).click()
    page.wait_for_url("**/links/")
    expect(link_items(page)).to_have_count(3)
    nested = link_item(page, "Title & more")
    expect(nested.locator("a.chip")).to_have_text(["#Dev", "#Python", "#x", "#y"])
    expect(nested.locator(".link-desc")).to_have_text("desc")
    expect(nested.locator(".link-meta")).to_contain_text("2020-09-13")  # ADD_DATE is kept
    expect(link_item(page, "Dev page").locator("a.chip")).to_have_text(["#Dev"])
    expect(link_item(page, "Top level").locator("a.chip")).to_have_count(0)
    expect(page.get_by_role("complementary", name="Tags").locator("a.chip", has_text="#Dev")).to_contain_text(
        "2"
    )

    # The same file again: nothing is duplicated.
    page.get_by_role("navigation").get_by_role("link", name="Import", exact=True).click()
    upload(page, "bookmarks.html", BOOKMARKS)
    expect(page.locator(".import-job")).to_have_count(2)
    expect(page.locator(".import-job").first.locator("[data-counts]")).to_have_text(
        "3 of 3 · 0 new · 3 already saved · 0 skipped"
    )
    page.goto("/links/")
    expect(link_items(page)).to_have_count(3)


def test_import_page_follows_a_running_import_until_it_is_done(sign_in, page: Page, alice):
    """The job card polls the API and updates itself; no reload needed."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from linkhub.links import services

    job = services.import_start(owner=alice, upload=SimpleUploadedFile("later.html", BOOKMARKS), queue=False)
    finished = []

    def finish_import_then_answer(route):
        # The first poll: the worker finishes the job now, then the poll reaches the server.
        try:
            if not finished:
                services.import_run(job_id=job.pk)
                finished.append(True)
        finally:
            route.continue_()

    page.route("**/api/imports/*/", finish_import_then_answer)
    response = sign_in(page, alice, "/import/")
    # The page as the server sent it: the job is waiting, with nothing done yet.
    html = response.text()
    assert 'data-status="pending"' in html
    assert "waiting" in html

    card = page.locator(f'.import-job[data-import-id="{job.pk}"]')
    expect(card).to_have_attribute("data-status", "succeeded")
    expect(card.locator("[data-status-label]")).to_have_text("done")
    expect(card.locator("[data-counts]")).to_have_text("3 of 3 · 3 new · 0 already saved · 0 skipped")
    expect(card.locator("[data-message]")).to_have_text("3 new, 0 already saved, 0 skipped.")
    assert progress_fraction(card) == 1
    assert finished


@pytest.mark.parametrize(
    ("name", "data", "mime", "message"),
    [
        ("photo.png", PNG, "image/png", "This is not a bookmark file (it looks like binary data)."),
        ("empty.html", b"", "text/html", "The submitted file is empty."),
        ("notes.txt", b"just some notes\nnothing else\n", "text/plain", "No bookmarks found"),
    ],
    ids=["png", "empty", "text"],
)
def test_broken_upload_shows_an_error_and_starts_no_import(
    sign_in, page: Page, alice, name, data, mime, message
):
    sign_in(page, alice, "/import/")
    upload(page, name, data, mime)

    error = page.locator("main form .error[role=alert]")
    expect(error).to_contain_text(message)
    expect(page.get_by_role("heading", name="Import bookmarks")).to_be_visible()
    expect(flash(page)).to_have_count(0)
    expect(page.locator(".import-job")).to_have_count(0)
    expect(page.get_by_role("heading", name="Recent imports")).to_have_count(0)
    # The page stays usable: a good file right after works.
    upload(page, "bookmarks.html", BOOKMARKS)
    expect(page.locator(".import-job")).to_have_count(1)
    expect(page.locator(".import-job").first).to_have_attribute("data-status", "succeeded")
