"""Decisions and their audit rows: every path writes one, nobody edits or deletes them, rejected
tags never come back, human tags are never removed by the model, decision rights hold."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.db.utils import DatabaseError

from linkhub.audit import AuditRowImmutable
from linkhub.links import services as link_services
from linkhub.links.models import TagDecision, TaggedLink
from linkhub.links.services import link_tag_decide
from mlops.models import StageEvent, Suggestion
from mlops.services import decisions, registry
from mlops.services.suggest import _allowed

pytestmark = pytest.mark.django_db


def rows(link=None):
    qs = TagDecision.objects.order_by("id")
    if link is not None:
        qs = qs.filter(link_id=link.pk)
    return list(qs.values_list("tag_name", "action", "source", "actor_name"))


def tags_of(link):
    return dict(TaggedLink.objects.filter(content_object=link).values_list("tag__name", "origin"))


def test_every_tag_path_writes_an_audit_row(alice, alice_api, client, make_link, settings):
    # Service (a command or the shell): source "cli"
    link = make_link(alice, "https://example.com/owls", tags=["birds"])
    assert rows(link) == [("birds", "add", "cli", "alice")]
    # The web UI's edit form
    client.force_login(alice)
    response = client.post(
        f"/links/{link.pk}/edit/", {"url": link.url, "title": "Owls", "tags": "birds, night"}
    )
    assert response.status_code == 302
    assert rows(link)[-1] == ("night", "add", "ui", "alice")
    # The API: PATCH replaces the tags (one removed, one added)
    response = alice_api.patch(f"/api/links/{link.pk}/", {"tags": ["night", "hunting"]}, format="json")
    assert response.status_code == 200, response.content
    assert rows(link)[-2:] == [("birds", "remove", "api", "alice"), ("hunting", "add", "api", "alice")]
    # Bulk actions in the UI
    client.post("/links/bulk/", {"ids": [link.pk], "action": "remove_tags", "tags": "night"})
    assert rows(link)[-1] == ("night", "remove", "ui", "alice")
    # An import
    html = (
        '<!DOCTYPE NETSCAPE-Bookmark-file-1><DL><p><DT><A HREF="https://example.com/owls" TAGS="raptors">'
        "Owls</A></DL>"
    )
    upload = SimpleUploadedFile("b.html", html.encode(), content_type="text/html")
    job = link_services.import_start(owner=alice, upload=upload, queue=False)
    link_services.import_run(job_id=job.pk)
    assert rows(link)[-1] == ("raptors", "add", "import", "alice")
    # The decisions endpoint
    response = alice_api.post(
        f"/api/links/{link.pk}/decisions/",
        {"tag": "to-read", "action": "add", "reason": "later"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["action"] == "add" and response.json()["reason"] == "later"
    assert rows(link)[-1] == ("to-read", "add", "api", "alice")
    # Deleting a tag takes it off its links: audited as removals
    from linkhub.links.models import Tag

    link_services.tag_delete(tag=Tag.objects.get(owner=alice, name="raptors"))
    assert rows(link)[-1] == ("raptors", "remove", "cli", "alice")
    # Nothing else was written besides these.
    assert all(r[3] == "alice" for r in rows())


def test_audit_rows_cannot_be_changed_or_deleted(alice, make_link, make_version):
    link = make_link(alice, "https://example.com/a", tags=["x"])
    row = TagDecision.objects.get()
    row.reason = "rewritten"
    with pytest.raises(AuditRowImmutable):
        row.save()
    with pytest.raises(AuditRowImmutable):
        row.delete()
    with pytest.raises(AuditRowImmutable):
        TagDecision.objects.filter(pk=row.pk).update(reason="x")
    with pytest.raises(AuditRowImmutable):
        TagDecision.objects.all().delete()
    version = make_version()
    event = StageEvent.objects.create(version=version, to_stage="production", actor_name="system", reason="r")
    with pytest.raises(AuditRowImmutable):
        event.delete()
    # Deleting the link keeps its audit trail.
    link.delete()
    assert TagDecision.objects.filter(link_id=row.link_id).count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_the_database_refuses_updates_and_deletes_of_audit_rows(alice, make_link):
    make_link(alice, "https://example.com/a", tags=["x"])
    for sql in ("UPDATE links_tagdecision SET reason = 'x'", "DELETE FROM links_tagdecision"):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cur,
        ):
            cur.execute(sql)
    assert TagDecision.objects.count() == 1


def test_accept_and_reject_suggestions(alice, make_link, make_version, suggest):
    version = make_version()
    link = make_link(alice, "https://example.com/owls")
    owls = suggest(link, "owls", 0.7, version)
    night = suggest(link, "night", 0.6, version)
    decisions.decide(link=link, tag="owls", action="accept", actor=alice, source="ui")
    decisions.decide(link=link, tag="Night", action="reject", actor=alice, reason="not about it", source="ui")
    owls.refresh_from_db()
    night.refresh_from_db()
    assert (owls.status, night.status) == ("accepted", "rejected")
    assert tags_of(link) == {"owls": "user"}
    accept, reject = TagDecision.objects.order_by("id").filter(link_id=link.pk)
    assert (accept.action, accept.suggestion_id, accept.model_version_id) == ("accept", owls.pk, version.pk)
    assert (reject.action, reject.reason, reject.suggestion_id) == ("reject", "not about it", night.pk)
    # Accepting what is not suggested is an error, and writes nothing.
    with pytest.raises(ValidationError):
        decisions.decide(link=link, tag="unknown", action="accept", actor=alice)
    assert TagDecision.objects.filter(link_id=link.pk).count() == 2


def test_a_rejected_tag_is_never_suggested_again(alice, make_link, make_version, suggest):
    version = make_version()
    link = make_link(alice, "https://example.com/owls", tags=["night", "owls"])
    suggest(link, "night-life", 0.6, version)
    decisions.decide(link=link, tag="night-life", action="reject", actor=alice)
    link_services.link_tags_set(link=link, names=["owls"])  # a person takes "night" off
    _, _, blocked = _allowed(link, registry.policy_get())
    assert {"night-life", "night", "owls"} <= blocked  # rejected, removed, already on the link


def test_auto_applied_tags_are_the_models_until_confirmed_and_a_reject_takes_them_off(
    alice, make_link, make_version, suggest
):
    version = make_version()
    link = make_link(alice, "https://example.com/owls", tags=["birds"])

    auto = suggest(link, "owls", 0.95, version, status=Suggestion.Status.AUTO_APPLIED)
    link_tag_decide(link=link, name="owls", action="auto_apply", actor=None)
    auto2 = suggest(link, "raptors", 0.93, version, status=Suggestion.Status.AUTO_APPLIED)
    link_tag_decide(link=link, name="raptors", action="auto_apply", actor=None)
    assert tags_of(link) == {"birds": "user", "owls": "model", "raptors": "model"}
    decisions.decide(link=link, tag="owls", action="accept", actor=alice)  # confirm
    decisions.decide(link=link, tag="raptors", action="reject", actor=alice)  # revert
    auto.refresh_from_db()
    auto2.refresh_from_db()
    assert (auto.status, auto2.status) == ("accepted", "reverted")
    assert tags_of(link) == {"birds": "user", "owls": "user"}
    # A person's own tag cannot be "rejected" (that would be the model removing it): remove it.
    with pytest.raises(ValidationError, match="remove it instead"):
        decisions.decide(link=link, tag="birds", action="reject", actor=alice)
    assert tags_of(link)["birds"] == "user"


def test_decision_rights(alice, bob, reviewer, make_link, alice_api, bob_api, api_client_for):
    link = make_link(alice, "https://example.com/owls")
    with pytest.raises(PermissionDenied):
        decisions.decide(link=link, tag="x", action="add", actor=bob)
    # Through the API another user's link does not exist.
    assert bob_api.post(f"/api/links/{link.pk}/decisions/", {"tag": "x", "action": "add"}).status_code == 404
    assert bob_api.get(f"/api/links/{link.pk}/suggestions/").status_code == 404
    rita = api_client_for(reviewer)
    response = rita.post(f"/api/links/{link.pk}/decisions/", {"tag": "x", "action": "add"}, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    response = rita.post(
        f"/api/links/{link.pk}/decisions/",
        {"tag": "x", "action": "add", "reason": "clearly about x"},
        format="json",
    )
    assert response.status_code == 201
    assert rows(link) == [("x", "add", "api", "rita")]
    assert rita.get(f"/api/links/{link.pk}/decisions/").json()[0]["reason"] == "clearly about x"
    bad = alice_api.post(f"/api/links/{link.pk}/decisions/", {"tag": "x", "action": "promote"}, format="json")
    assert bad.status_code == 400 and "action" in bad.json()


def test_suggestions_endpoint(alice, alice_api, make_link, make_version, suggest):
    version = make_version()
    link = make_link(alice, "https://example.com/owls")
    suggest(link, "owls", 0.8, version)
    suggest(link, "hidden", 0.8, version, visible=False)  # shadow output is never shown
    data = alice_api.get(f"/api/links/{link.pk}/suggestions/").json()
    assert [(s["tag"], s["status"], s["model_version"]) for s in data] == [
        ("owls", "proposed", version.number)
    ]
    assert data[0]["explanation"] == [["owls", 0.4]]


def test_imports_of_many_links_audit_in_bulk(alice):
    items = "".join(
        f'<DT><A HREF="https://example.com/{i}" TAGS="t{i % 5},common">L{i}</A>' for i in range(300)
    )
    html = f"<!DOCTYPE NETSCAPE-Bookmark-file-1><DL><p>{items}</DL>"
    job = link_services.import_start(
        owner=alice, upload=SimpleUploadedFile("b.html", html.encode(), "text/html"), queue=False
    )
    link_services.import_run(job_id=job.pk)
    assert TagDecision.objects.filter(source="import").count() == 600


def test_merging_tags_and_the_admin_are_audited_too(alice, make_link, admin_client):
    from linkhub.links.models import Tag

    a = make_link(alice, "https://example.com/a", tags=["py"])
    b = make_link(alice, "https://example.com/b", tags=["py", "python"])
    link_services.tag_merge(
        owner=alice, sources=[Tag.objects.get(owner=alice, name="py")], target_name="python"
    )
    assert rows(a)[-2:] == [("python", "add", "cli", "alice"), ("py", "remove", "cli", "alice")]
    assert rows(b)[-1] == ("py", "remove", "cli", "alice")  # it already had the target
    # The admin cannot edit tag rows, and deleting a tag there is audited.
    tag = Tag.objects.get(owner=alice, name="python")
    assert admin_client.get("/admin/links/taggedlink/add/").status_code == 403
    response = admin_client.post(f"/admin/links/tag/{tag.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert rows(a)[-1] == ("python", "remove", "admin", "admin")
