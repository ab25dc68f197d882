"""Suggestion chips: a person accepts one suggestion and rejects another in one click each, without
the page reloading, and an administrator finds both decisions in the admin's audit list."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from linkhub.links.models import TagDecision, TaggedLink
from mlops.models import ModelVersion, Suggestion

from .helpers import link_item

pytestmark = pytest.mark.browser


def test_accept_and_reject_chips_then_see_the_decisions_in_the_admin(
    sign_in, new_page, alice, make_user, make_link
):
    # The link first: saving a link while a version is in production would have it scored.
    link = make_link(alice, url="https://example.com/owls", title="Owls at night", tags=["birds"])
    version = ModelVersion.objects.create(
        number=1,
        design="test",
        stage="production",
        artifact_sha256="0" * 64,
        artifact_path="models/test/1.bin",
        format_version=1,
        sklearn_version="test",
        python_version="3.11",
        data_fingerprint="0" * 64,
    )
    for name, score in (("owls", 0.82), ("nocturnal", 0.61)):
        Suggestion.objects.create(
            link=link,
            tag_name=name,
            tag_key=name,
            score=score,
            model_version=version,
            explanation=[["owl", 0.41], ["night", 0.2]],
        )

    page = new_page()
    sign_in(page, alice)
    row = link_item(page, "Owls at night")
    chips = row.get_by_test_id("suggestion")
    expect(chips).to_have_count(2)
    expect(row.locator('[data-tag="owls"] .chip-score')).to_have_text("0.82")
    expect(row.locator('[data-tag="owls"]')).to_have_attribute(
        "title", "Suggested by the shared v1 model, score 0.82; why: owl (0.41), night (0.20)"
    )
    page.evaluate("window.__sameDocument = true")

    row.get_by_role("button", name="Accept owls").click()
    expect(row.locator("a.chip")).to_have_text(["#birds", "#owls"])
    expect(chips).to_have_count(1)

    row.get_by_role("button", name="Reject nocturnal").click()
    expect(chips).to_have_count(0)
    expect(row.locator("a.chip")).to_have_text(["#birds", "#owls"])
    assert page.evaluate("window.__sameDocument === true"), "the page reloaded"
    assert dict(TaggedLink.objects.filter(content_object=link).values_list("tag__name", "origin")) == {
        "birds": "user",
        "owls": "user",
    }
    assert set(
        TagDecision.objects.filter(link_id=link.pk, source="ui").values_list("tag_name", "action")
    ) == {("owls", "accept"), ("nocturnal", "reject")}

    # After a reload the decisions stay: no chip comes back.
    page.reload()
    expect(link_item(page, "Owls at night").get_by_test_id("suggestion")).to_have_count(0)

    root = make_user("root")
    root.is_staff = root.is_superuser = True
    root.save(update_fields=["is_staff", "is_superuser"])
    admin_page = new_page()
    sign_in(admin_page, root)
    admin_page.goto("/admin/links/tagdecision/")
    rows = admin_page.locator("#result_list tbody tr")
    # Newest first: the rejection, the acceptance, then the tag alice set when she saved the link.
    expect(rows.locator("td.field-tag_name")).to_have_text(["nocturnal", "owls", "birds"])
    expect(rows.locator("td.field-action")).to_have_text(["reject", "accept", "add"])
    expect(rows.nth(0)).to_contain_text("alice")
    expect(rows.nth(0)).to_contain_text("web UI")
    expect(rows.nth(1)).to_contain_text("web UI")
