"""The tag model's admin: read-only audit trail, the review queue and its reasoned bulk
decisions, stage actions, the policy form, and who may reach each."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from linkhub.audit import AuditRowImmutable
from linkhub.links.models import TagDecision, TaggedLink, TagOrigin
from linkhub.links.services import link_tag_decide
from mlops.admin import ReviewQueueItem, top_terms
from mlops.models import MetricPoint, Policy, PolicyChange, Stage, StageEvent, Suggestion, TrainingRun
from mlops.services import decisions, registry
from mlops.services.policy import EDITABLE, policy_update

pytestmark = pytest.mark.django_db


def _app(model_name: str) -> str:
    return "links" if model_name == "tagdecision" else "mlops"


QUEUE = reverse("admin:mlops_reviewqueueitem_changelist")
VERSIONS = reverse("admin:mlops_modelversion_changelist")


def _staff(make_user, name, *, groups=(), superuser=False, perms=()):
    user = make_user(name)
    user.is_staff = True
    user.is_superuser = superuser
    user.save(update_fields=["is_staff", "is_superuser"])
    for group in groups:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(codename=codename, content_type__app_label="mlops"))
    return user


@pytest.fixture
def root(make_user):
    return _staff(make_user, "root", superuser=True)


@pytest.fixture
def rita(make_user):
    """A reviewer: staff, in the group, no model permissions."""
    return _staff(make_user, "rita", groups=["reviewers"])


@pytest.fixture
def mo(make_user):
    """A model owner: staff, in the group, no model permissions."""
    return _staff(make_user, "mo", groups=["model owners"])


@pytest.fixture
def sam(make_user):
    """Plain staff, in no group."""
    return _staff(make_user, "sam")


@pytest.fixture
def version(make_version):
    return make_version(stage=Stage.PRODUCTION, number=1)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def tags_of(link) -> dict[str, str]:
    return dict(TaggedLink.objects.filter(content_object=link).values_list("tag__name", "origin"))


def queue_names(response) -> list[str]:
    return [row.tag_name for row in response.context["cl"].result_list]


def act(client, url, action, ids, reason=None, **extra):
    """Post an action: the first step (no reason), or the second (with one)."""
    data = {"action": action, "_selected_action": [str(pk) for pk in ids], **extra}
    if reason is None:
        data["index"] = "0"
    else:
        data.update({"apply": "yes", "reason": reason})
    return client.post(url, data)


# --- the audit trail --------------------------------------------------------------------------


@pytest.fixture
def audit_rows(alice, root, make_link, make_version):
    link = make_link(alice, "https://example.com/owls", tags=["birds"])
    decision = TagDecision.objects.get(link_id=link.pk)
    candidate = make_version(stage=Stage.CANDIDATE, number=7)
    registry.stage_change(version=candidate, to_stage=Stage.SHADOW, actor=root, reason="try it quietly")
    event = StageEvent.objects.get(version=candidate, to_stage=Stage.SHADOW)
    change = PolicyChange.objects.create(
        actor=root, actor_name="root", changes={"canary_percent": [20, 10]}, reason="smaller canary"
    )
    return {"tagdecision": decision, "stageevent": event, "policychange": change}


@pytest.mark.parametrize(
    ("model_name", "search"),
    [("tagdecision", "birds"), ("stageevent", "quietly"), ("policychange", "smaller")],
)
def test_audit_admins_are_read_only(client, root, audit_rows, model_name, search):
    """Even a superuser can only look: change, delete and add are refused with a 403."""
    row = audit_rows[model_name]
    model = type(row)
    before = model.objects.count()
    client.force_login(root)
    listing = client.get(reverse(f"admin:{_app(model_name)}_{model_name}_changelist"), {"q": search})
    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [row]
    assert listing.context["action_form"] is None  # no bulk delete, no action that writes

    change_url = reverse(f"admin:{_app(model_name)}_{model_name}_change", args=[row.pk])
    page = client.get(change_url)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert not page.context["has_change_permission"]

    assert client.post(change_url, {"reason": "rewritten"}).status_code == 403
    delete_url = reverse(f"admin:{_app(model_name)}_{model_name}_delete", args=[row.pk])
    assert client.get(delete_url).status_code == 403
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert client.get(reverse(f"admin:{_app(model_name)}_{model_name}_add")).status_code == 403
    assert model.objects.count() == before
    row.refresh_from_db()
    assert row.reason != "rewritten"


def test_audit_rows_are_immutable_in_the_model(audit_rows):
    for row in audit_rows.values():
        model = type(row)
        row.reason = "rewritten"
        with pytest.raises(AuditRowImmutable):
            row.save()
        with pytest.raises(AuditRowImmutable):
            row.delete()
        with pytest.raises(AuditRowImmutable):
            model.objects.filter(pk=row.pk).update(reason="rewritten")
        with pytest.raises(AuditRowImmutable):
            model.objects.filter(pk=row.pk).delete()
        assert model.objects.get(pk=row.pk).reason != "rewritten"


def test_decision_list_filters(client, root, alice, bob, make_link):
    make_link(alice, "https://example.com/owls", tags=["birds"])
    bobs = make_link(bob, "https://example.com/bees", tags=["insects"])
    decisions.decide(link=bobs, tag="insects", action="remove", actor=bob, source="api")
    client.force_login(root)
    url = reverse("admin:links_tagdecision_changelist")

    def listed(**params):
        response = client.get(url, params)
        assert response.status_code == 200
        return sorted((d.tag_name, d.action) for d in response.context["cl"].result_list)

    assert listed(action__exact="remove") == [("insects", "remove")]
    assert listed(source__exact="cli") == [("birds", "add"), ("insects", "add")]
    assert listed(actor_name="alice") == [("birds", "add")]
    assert listed(q="example.com/bees") == [("insects", "add"), ("insects", "remove")]


def test_reviewers_may_view_decisions_plain_staff_may_not(client, rita, sam, alice, make_link):
    make_link(alice, "https://example.com/owls", tags=["birds"])
    url = reverse("admin:links_tagdecision_changelist")
    client.force_login(rita)
    assert client.get(url).status_code == 200
    client.force_login(sam)
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("model_name", ["tagdecision", "suggestion"])
def test_list_query_count_does_not_grow_with_rows(
    client, root, alice, make_link, suggest, version, model_name
):
    client.force_login(root)
    url = reverse(f"admin:{_app(model_name)}_{model_name}_changelist")

    def add(first, last):
        for i in range(first, last):
            link = make_link(alice, f"https://example.com/{i}", tags=["birds"])
            suggest(link, "owls", 0.6, version=version)
            decisions.decide(link=link, tag="owls", action="accept", actor=alice, reason="yes")

    add(0, 2)
    client.get(url)  # warm the session and the content types
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    add(2, 10)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert response.context["cl"].result_count >= 10
    assert len(many) == len(few)


# --- the review queue -------------------------------------------------------------------------


@pytest.fixture
def queue(alice, bob, make_link, suggest, version):
    """Open suggestions at several scores, and some the queue must leave out."""
    owls = make_link(alice, "https://example.com/owls", title="Owls")
    bees = make_link(bob, "https://example.com/bees", title="Bees")
    rows = {
        "a": suggest(owls, "a", 0.36, version=version),
        "b": suggest(owls, "b", 0.88, version=version),
        "c": suggest(bees, "c", 0.95, version=version, status=Suggestion.Status.AUTO_APPLIED),
        "d": suggest(bees, "d", 0.50, version=version),
        "e": suggest(owls, "e", 0.62, version=version),
    }
    suggest(owls, "answered", 0.355, version=version, status=Suggestion.Status.ACCEPTED)
    suggest(owls, "shadow", 0.351, version=version, visible=False)
    return rows


def test_review_queue_puts_the_most_uncertain_first(client, rita, queue):
    """Ordered in the database by the distance of the score to the nearer policy threshold."""
    client.force_login(rita)
    response = client.get(QUEUE)
    assert response.status_code == 200
    # Default policy: auto-apply at 0.9, suggest at 0.35.
    assert queue_names(response) == ["a", "b", "c", "d", "e"]
    cl = response.context["cl"]
    assert "distance" in cl.queryset.query.annotations
    assert cl.queryset.query.order_by[0] == "distance"
    assert response.context["cl"].result_list[0].distance == pytest.approx(0.01)

    Policy.objects.update_or_create(pk=1, defaults={"auto_apply_threshold": 0.6, "suggest_threshold": 0.5})
    assert queue_names(client.get(QUEUE)) == ["d", "e", "a", "b", "c"]


def test_review_queue_filters(client, rita, bob, queue, make_version, suggest):
    client.force_login(rita)
    assert queue_names(client.get(QUEUE, {"score": "50-70"})) == ["d", "e"]
    assert queue_names(client.get(QUEUE, {"score": "gte90"})) == ["c"]
    assert queue_names(client.get(QUEUE, {"score": "lt50"})) == ["a"]
    assert queue_names(client.get(QUEUE, {"tag_name": "b"})) == ["b"]
    assert queue_names(client.get(QUEUE, {"link__owner__id__exact": bob.pk})) == ["c", "d"]
    assert queue_names(client.get(QUEUE, {"status__exact": "auto_applied"})) == ["c"]
    newer = make_version(stage=Stage.CANARY, number=2)
    suggest(queue["a"].link, "z", 0.7, version=newer)
    assert queue_names(client.get(QUEUE, {"model_version__id__exact": newer.pk})) == ["z"]


def test_review_queue_shows_link_owner_version_and_terms(client, rita, queue):
    client.force_login(rita)
    content = client.get(QUEUE).content.decode()
    assert "Owls" in content and "https://example.com/bees" in content
    assert "alice" in content and "bob" in content
    assert "v1" in content and "owls" in content  # the explanation's top term
    assert top_terms([["rare", 0.1], ["owl", 0.9], ["night", 0.5], ["x", -2]], n=2) == "owl, night"


def test_review_queue_query_count_does_not_grow_with_rows(client, rita, alice, make_link, suggest, version):
    client.force_login(rita)
    links = [make_link(alice, f"https://example.com/{i}", title=f"page {i}") for i in range(12)]
    for link in links[:2]:
        suggest(link, "birds", 0.6, version=version)
    client.get(QUEUE)  # warm the session and the content types
    with CaptureQueriesContext(connection) as few:
        assert client.get(QUEUE).status_code == 200
    for link in links[2:]:
        suggest(link, "birds", 0.6, version=version)
    with CaptureQueriesContext(connection) as many:
        response = client.get(QUEUE)
    assert len(response.context["cl"].result_list) == 12
    assert len(many) == len(few)


def test_bulk_accept_asks_for_a_reason_then_decides(client, rita, alice, make_link, suggest, version):
    link = make_link(alice, "https://example.com/owls", title="Owls")
    proposed = suggest(link, "birds", 0.6, version=version)
    client.force_login(rita)

    form = act(client, QUEUE, "accept_with_reason", [proposed.pk])
    assert form.status_code == 200
    assert "admin/mlops/decide_reason.html" in [t.name for t in form.templates]
    assert "birds" in form.content.decode()
    assert not TagDecision.objects.filter(action="accept").exists()

    done = act(client, QUEUE, "accept_with_reason", [proposed.pk], reason="clearly about birds")
    assert done.status_code == 302
    assert messages_of(done) == ["1 suggestion accepted."]
    decision = TagDecision.objects.get(action="accept")
    assert decision.source == "admin"
    assert decision.reason == "clearly about birds"
    assert (decision.actor, decision.actor_name) == (rita, "rita")
    assert decision.suggestion_id == proposed.pk
    assert decision.model_version_id == version.pk
    assert (decision.link_id, decision.tag_name) == (link.pk, "birds")
    assert tags_of(link) == {"birds": TagOrigin.USER}
    proposed.refresh_from_db()
    assert proposed.status == Suggestion.Status.ACCEPTED
    assert queue_names(client.get(QUEUE)) == []


def test_bulk_reject_takes_off_the_models_tag_and_reports_failures(
    client, rita, alice, bob, make_link, suggest, version
):
    """An auto-applied tag is removed; a tag a person set cannot be rejected, and says so."""
    owls = make_link(alice, "https://example.com/owls")
    link_tag_decide(link=owls, name="java", action="auto_apply", actor=None)
    applied = suggest(owls, "java", 0.93, version=version, status=Suggestion.Status.AUTO_APPLIED)
    bees = make_link(bob, "https://example.com/bees", tags=["insects"])
    on_human_tag = suggest(bees, "insects", 0.7, version=version)
    client.force_login(rita)

    assert act(client, QUEUE, "reject_with_reason", [applied.pk, on_human_tag.pk]).status_code == 200
    done = act(client, QUEUE, "reject_with_reason", [applied.pk, on_human_tag.pk], reason="not about coffee")
    assert done.status_code == 302
    texts = messages_of(done)
    assert "1 suggestion rejected." in texts
    assert any("insects" in t and "set by a person" in t for t in texts)

    decision = TagDecision.objects.get(action="reject")
    assert (decision.tag_name, decision.source, decision.actor_name) == ("java", "admin", "rita")
    assert (decision.suggestion_id, decision.model_version_id) == (applied.pk, version.pk)
    assert decision.reason == "not about coffee"
    assert tags_of(owls) == {}
    assert tags_of(bees) == {"insects": TagOrigin.USER}
    applied.refresh_from_db()
    on_human_tag.refresh_from_db()
    assert applied.status == Suggestion.Status.REVERTED
    assert on_human_tag.status == Suggestion.Status.PROPOSED


def test_empty_reason_is_refused(client, rita, alice, make_link, suggest, version):
    link = make_link(alice, "https://example.com/owls")
    proposed = suggest(link, "birds", 0.6, version=version)
    client.force_login(rita)
    response = act(client, QUEUE, "accept_with_reason", [proposed.pk], reason="   ")
    assert response.status_code == 200
    assert response.context["form"].errors["reason"] == ["Give a reason: it is recorded with every change."]
    assert "Give a reason" in response.content.decode()
    assert not TagDecision.objects.filter(action="accept").exists()
    proposed.refresh_from_db()
    assert proposed.status == Suggestion.Status.PROPOSED


def test_review_queue_is_for_reviewers_only(client, make_user, rita, sam, queue):
    client.force_login(rita)
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    assert "Review queue" in index.content.decode()
    assert client.get(QUEUE).status_code == 200
    assert client.get(reverse("admin:mlops_suggestion_changelist")).status_code == 200

    # Django's model permissions do not make someone a reviewer.
    queue_type = ContentType.objects.get_for_model(ReviewQueueItem, for_concrete_model=False)
    view_queue, _ = Permission.objects.get_or_create(
        codename="view_reviewqueueitem", content_type=queue_type, defaults={"name": "Can view"}
    )
    sam.user_permissions.add(view_queue, Permission.objects.get(codename="view_suggestion"))
    client.force_login(sam)
    assert client.get(QUEUE).status_code == 403
    assert act(client, QUEUE, "accept_with_reason", [queue["a"].pk], reason="sure").status_code == 403
    assert "Review queue" not in client.get(reverse("admin:index")).content.decode()
    assert not TagDecision.objects.filter(action="accept").exists()

    # A reviewer who is not staff does not get into the admin at all.
    outsider = make_user("otto")
    outsider.groups.add(Group.objects.get_or_create(name="reviewers")[0])
    client.force_login(outsider)
    response = client.get(QUEUE)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_the_queue_leaves_out_what_is_no_longer_open(client, rita, queue):
    """A suggestion answered elsewhere between the two steps is not decided again."""
    client.force_login(rita)
    a = queue["a"]
    decisions.decide(link=a.link, tag="a", action="reject", actor=a.link.owner, source="ui")
    response = act(client, QUEUE, "accept_with_reason", [a.pk], reason="too late")
    assert response.status_code == 302
    assert not TagDecision.objects.filter(action="accept").exists()
    assert messages_of(response)[-1] == "None of the selected rows can be acted on now."
    assert ReviewQueueItem.objects.filter(pk=a.pk, status=Suggestion.Status.REJECTED).exists()


# --- versions and their stages ----------------------------------------------------------------


def test_promote_asks_for_a_reason_and_writes_a_stage_event(client, mo, make_version):
    candidate = make_version(stage=Stage.CANDIDATE, number=3)
    client.force_login(mo)
    form = act(client, VERSIONS, "promote_to_shadow", [candidate.pk])
    assert form.status_code == 200
    assert "admin/mlops/decide_reason.html" in [t.name for t in form.templates]
    assert not StageEvent.objects.filter(version=candidate).exists()

    assert act(client, VERSIONS, "promote_to_shadow", [candidate.pk], reason="").status_code == 200
    assert not StageEvent.objects.filter(version=candidate).exists()

    done = act(client, VERSIONS, "promote_to_shadow", [candidate.pk], reason="beats production offline")
    assert done.status_code == 302
    assert messages_of(done) == ["v3 is now in shadow."]
    event = StageEvent.objects.get(version=candidate)
    assert (event.from_stage, event.to_stage) == (Stage.CANDIDATE, Stage.SHADOW)
    assert (event.actor, event.actor_name, event.automatic) == (mo, "mo", False)
    assert event.reason == "beats production offline"
    candidate.refresh_from_db()
    assert candidate.stage == Stage.SHADOW


def test_roll_back_restores_the_previous_production_version(client, mo, make_version):
    v1 = make_version(stage=Stage.CANDIDATE, number=1)
    v2 = make_version(stage=Stage.CANDIDATE, number=2)
    registry.stage_change(version=v1, to_stage=Stage.PRODUCTION, actor=mo, reason="first")
    registry.stage_change(version=v2, to_stage=Stage.PRODUCTION, actor=mo, reason="better")
    client.force_login(mo)
    done = act(client, VERSIONS, "roll_back", [v2.pk], reason="complaints about wrong tags")
    assert done.status_code == 302
    assert messages_of(done) == ["v2 rolled back: v1 is in production again."]
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.stage, v2.stage) == (Stage.PRODUCTION, Stage.RETIRED)
    events = StageEvent.objects.filter(reason__contains="complaints about wrong tags")
    assert {(e.version_id, e.to_stage, e.actor_name) for e in events} == {
        (v1.pk, Stage.PRODUCTION, "mo"),
        (v2.pk, Stage.RETIRED, "mo"),
    }


def test_stage_actions_show_the_services_errors(client, mo, make_version):
    candidate = make_version(stage=Stage.CANDIDATE, number=4)
    other = make_version(stage=Stage.CANDIDATE, number=5)
    client.force_login(mo)
    done = act(client, VERSIONS, "roll_back", [candidate.pk], reason="oops")
    assert done.status_code == 302
    assert messages_of(done) == ["v4: v4 is candidate: only shadow, canary or production roll back."]
    two = act(client, VERSIONS, "promote_to_production", [candidate.pk, other.pk])
    assert two.status_code == 302
    assert messages_of(two)[-1] == "Select exactly one version to promote to production."
    assert not StageEvent.objects.exists()


def test_stage_actions_are_refused_to_non_owners(client, sam, make_version):
    candidate = make_version(stage=Stage.CANDIDATE, number=3)
    client.force_login(sam)
    listing = client.get(VERSIONS)
    assert listing.status_code == 200  # staff may look
    assert "promote_to_shadow" not in listing.content.decode()
    for reason in (None, "let me"):
        act(client, VERSIONS, "promote_to_shadow", [candidate.pk], reason=reason)
    assert not StageEvent.objects.exists()
    candidate.refresh_from_db()
    assert candidate.stage == Stage.CANDIDATE
    # Nothing is added, changed or deleted through the version's own pages either.
    change_url = reverse("admin:mlops_modelversion_change", args=[candidate.pk])
    assert client.post(change_url, {"stage": "production"}).status_code == 403
    assert client.post(reverse("admin:mlops_modelversion_delete", args=[candidate.pk])).status_code == 403


def test_version_page_shows_lineage_gate_and_stage_history(client, root, make_version):
    version = make_version(
        stage=Stage.CANDIDATE,
        number=9,
        artifact_size=2048,
        labels=["birds", "insects"],
        metrics={"recall_at_3": 0.71234, "precision_at_1": 0.6, "micro_f1": 0.5},
        gate={
            "passed": False,
            "reason": "recall_at_3 0.7123 vs production 0.7200",
            "primary_metric": "recall_at_3",
            "candidate": {"recall_at_3": 0.71234},
            "production": {"recall_at_3": 0.72},
        },
    )
    registry.stage_change(version=version, to_stage=Stage.SHADOW, actor=root, reason="look at it")
    client.force_login(root)
    listing = client.get(VERSIONS, {"stage__exact": "shadow"})
    assert [v.number for v in listing.context["cl"].result_list] == [9]
    assert "0.712" in listing.content.decode() and "2.0\xa0KB" in listing.content.decode()
    assert [v.number for v in client.get(VERSIONS, {"q": "9"}).context["cl"].result_list] == [9]
    assert client.get(VERSIONS, {"q": "no such design"}).context["cl"].result_count == 0
    events = client.get(reverse("admin:mlops_stageevent_changelist"), {"q": "root"})
    assert [e.to_stage for e in events.context["cl"].result_list] == [Stage.SHADOW]
    page = client.get(reverse("admin:mlops_modelversion_change", args=[version.pk]))
    assert page.status_code == 200
    content = page.content.decode()
    assert "failed" in content and "recall_at_3 (primary)" in content and "0.720" in content
    assert version.artifact_sha256 in content and "look at it" in content
    assert b'name="_save"' not in page.content


# --- the policy -------------------------------------------------------------------------------


def policy_form(policy: Policy, **changes) -> dict:
    data = {name: getattr(policy, name) for name in EDITABLE}
    data["global_tags"] = json.dumps(data["global_tags"])
    data.update(changes)
    return data


def test_policy_edit_writes_a_policy_change(client, mo):
    policy = registry.policy_get()
    url = reverse("admin:mlops_policy_change", args=[policy.pk])
    client.force_login(mo)
    assert 'name="reason"' in client.get(url).content.decode()
    response = client.post(
        url, policy_form(policy, auto_apply_threshold="0.95", canary_percent="10", reason="fewer surprises")
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    change = PolicyChange.objects.get()
    assert change.changes == {"auto_apply_threshold": [0.9, 0.95], "canary_percent": [20, 10]}
    assert (change.actor, change.actor_name, change.reason) == (mo, "mo", "fewer surprises")
    policy.refresh_from_db()
    assert (policy.auto_apply_threshold, policy.canary_percent, policy.updated_by) == (0.95, 10, mo)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"reason": ""}, "reason", "Give a reason"),
        ({"suggest_threshold": "0.95"}, "suggest_threshold", "must not be above the auto-apply threshold"),
        ({"auto_apply_threshold": "1.5"}, "auto_apply_threshold", "at most 1"),
        ({"suggest_threshold": "0"}, "suggest_threshold", "above 0"),
        ({"canary_percent": "0"}, "canary_percent", "from 1 to 100"),
        ({"canary_percent": "101"}, "canary_percent", "from 1 to 100"),
        ({"gate_margin": "-0.1"}, "gate_margin", "at least 0"),
        ({"global_tags": '"news"'}, "global_tags", "list of tag names"),
    ],
)
def test_policy_edit_is_validated(client, mo, changes, field, message):
    policy = registry.policy_get()
    client.force_login(mo)
    data = {**policy_form(policy, reason="tuning"), **changes}
    response = client.post(reverse("admin:mlops_policy_change", args=[policy.pk]), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message in " ".join(errors[field])
    assert not PolicyChange.objects.exists()
    assert Policy.objects.get().auto_apply_threshold == 0.9


def test_policy_is_edited_by_model_owners_only(client, sam, root):
    policy = registry.policy_get()
    url = reverse("admin:mlops_policy_change", args=[policy.pk])
    sam.user_permissions.add(Permission.objects.get(codename="change_policy"))
    client.force_login(sam)
    page = client.get(url)
    assert page.status_code == 200  # staff may look
    assert 'name="reason"' not in page.content.decode() and b'name="_save"' not in page.content
    assert client.post(url, policy_form(policy, canary_percent="5", reason="mine now")).status_code == 403
    assert not PolicyChange.objects.exists()
    # One row: no second one, and none deleted.
    client.force_login(root)
    assert client.get(reverse("admin:mlops_policy_add")).status_code == 403
    assert (
        client.post(reverse("admin:mlops_policy_delete", args=[policy.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert Policy.objects.count() == 1


def test_policy_can_be_added_once_when_missing(client, mo):
    Policy.objects.all().delete()
    client.force_login(mo)
    add_url = reverse("admin:mlops_policy_add")
    assert client.get(add_url).status_code == 200
    response = client.post(add_url, policy_form(Policy(), min_examples="5", reason="small site"))
    assert response.status_code == 302
    policy = Policy.objects.get()
    assert (policy.pk, policy.min_examples) == (1, 5)
    assert PolicyChange.objects.get().changes == {"min_examples": [3, 5]}
    assert client.get(add_url).status_code == 403


def test_policy_update_service(mo, sam):
    policy = policy_update(actor=mo, changes={"max_suggestions": 3, "global_tags": ["news"]}, reason="tidy")
    assert (policy.max_suggestions, policy.global_tags) == (3, ["news"])
    assert PolicyChange.objects.get().changes == {"max_suggestions": [5, 3], "global_tags": [[], ["news"]]}
    # The same values again change nothing and record nothing.
    policy_update(actor=mo, changes={"max_suggestions": 3}, reason="again")
    assert PolicyChange.objects.count() == 1
    with pytest.raises(PermissionDenied):
        policy_update(actor=sam, changes={"max_suggestions": 4}, reason="mine")
    with pytest.raises(ValidationError) as missing:
        policy_update(actor=mo, changes={"max_suggestions": 4}, reason="  ")
    assert "reason" in missing.value.message_dict
    with pytest.raises(ValidationError) as crossed:
        policy_update(actor=mo, changes={"suggest_threshold": 0.95}, reason="more")
    assert "suggest_threshold" in crossed.value.message_dict
    with pytest.raises(ValidationError):
        policy_update(actor=mo, changes={"updated_by": None}, reason="sneaky")
    assert Policy.objects.get().suggest_threshold == 0.35
    assert PolicyChange.objects.count() == 1


# --- the other read-only lists ----------------------------------------------------------------


def test_read_only_lists_render(client, root, mo, rita, sam, alice, make_link, suggest, version):
    link = make_link(alice, "https://example.com/owls")
    suggest(link, "birds", 0.6, version=version, visible=False)
    TrainingRun.objects.create(
        trigger=TrainingRun.Trigger.MANUAL, status="running", done=30, total=120, version=version
    )
    MetricPoint.objects.create(name="acceptance_rate", model_version=version, value=0.8, count=40)
    MetricPoint.objects.create(name="drift_psi", value=0.1)

    client.force_login(root)
    runs = client.get(reverse("admin:mlops_trainingrun_changelist"))
    assert "30/120 (25%)" in runs.content.decode()
    assert reverse("admin:mlops_modelversion_change", args=[version.pk]) in runs.content.decode()
    points = client.get(reverse("admin:mlops_metricpoint_changelist"), {"name": "acceptance_rate"})
    assert [p.name for p in points.context["cl"].result_list] == ["acceptance_rate"]
    shadow = client.get(reverse("admin:mlops_suggestion_changelist"), {"visible__exact": "0"})
    assert [s.tag_name for s in shadow.context["cl"].result_list] == ["birds"]

    for user, model_name, status in [
        (mo, "trainingrun", 200),
        (mo, "metricpoint", 200),
        (mo, "policy", 200),
        (sam, "stageevent", 200),
        (rita, "suggestion", 200),
        (sam, "suggestion", 403),
        (mo, "tagdecision", 403),
    ]:
        client.force_login(user)
        url = reverse(f"admin:{_app(model_name)}_{model_name}_changelist")
        assert client.get(url).status_code == status, (user, model_name)
        if status == 200 and model_name != "policy":
            assert client.get(reverse(f"admin:{_app(model_name)}_{model_name}_add")).status_code == 403
