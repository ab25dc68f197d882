"""One user's links are invisible to another: their pages are plain 404s."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .helpers import link_items

pytestmark = pytest.mark.browser

TITLE = "Alice's surprise party plans"


def test_another_users_link_is_not_found(sign_in, new_page, alice, bob, make_link):
    link = make_link(alice, url="https://example.com/party", title=TITLE, tags=["secret"])

    # Alice sees her link (so the URL below is a real, working page).
    alice_page = new_page()
    response = sign_in(alice_page, alice, f"/links/{link.pk}/")
    assert response.status == 200
    expect(alice_page.locator("h1.link-heading")).to_have_text(TITLE)

    # Bob, in his own browser, gets "not found" for it, and does not see it anywhere.
    bob_page = new_page()
    sign_in(bob_page, bob)
    for path in (f"/links/{link.pk}/", f"/links/{link.pk}/edit/", f"/links/{link.pk}/delete/"):
        response = bob_page.goto(path)
        assert response.status == 404, path
        expect(bob_page.get_by_role("heading", name="Not Found")).to_be_visible()
        expect(bob_page.locator("body")).not_to_contain_text(TITLE)

    bob_page.goto("/links/?q=party")
    expect(link_items(bob_page)).to_have_count(0)
    bob_page.goto("/links/?tag=secret")
    expect(link_items(bob_page)).to_have_count(0)
    bob_page.goto("/tags/")
    expect(bob_page.locator("main")).not_to_contain_text("secret")
