"""The tag model in the web UI: suggestion chips (JSON and plain-form decisions), the model pages
for model owners (train, promote, roll back) and model cards, page and Markdown export."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from linkhub.links.models import Link, Tag, TagDecision, TaggedLink
from linkhub.links.services import link_tag_decide
from mlops.models import ModelVersion, Stage, StageEvent, Suggestion, TrainingRun

pytestmark = pytest.mark.django_db

JSON = {"HTTP_ACCEPT": "application/json"}


def tags_of(link):
    return dict(TaggedLink.objects.filter(content_object=link).values_list("tag__name", "origin"))


def decisions_of(link):
    return list(
        TagDecision.objects.filter(link_id=link.pk)
        .exclude(action="auto_apply")
        .order_by("id")
        .values_list("tag_name", "action", "source", "actor_name")
    )


def _join(user, name: str):
    user.groups.add(Group.objects.get(name=name))
    user.__dict__.pop("_linkhub_groups", None)
    return user


@pytest.fixture
def version(make_version):
    return make_version(
        Stage.PRODUCTION,
        number=3,
        labels=["owls", "night", "birds"],
        metrics={
            "precision_at_1": 0.8125,
            "precision_at_3": 0.5,
            "recall_at_3": 0.7431,
            "recall_at_5": 0.9,
            "micro_f1": 0.61,
            "macro_f1": 0.55,
            "lrap": 0.77,
            "ece": 0.041,
            "n": 48,
            "threshold": 0.5,
        },
        per_tag={
            "owls": {"precision": 0.9, "recall": 0.8, "f1": 0.85, "support": 20},
            "night": {"precision": 0.2, "recall": 0.1, "f1": 0.13, "support": 4},
            "birds": {"precision": 0.6, "recall": 0.5, "f1": 0.55, "support": 11},
        },
        gate={
            "passed": True,
            "reason": "no production version to compare with",
            "primary_metric": "recall_at_3",
            "candidate": {"recall_at_3": 0.7431},
            "production": None,
        },
        data_summary={"source": "decisions", "examples": 192, "train": 144, "holdout": 48, "users": 3},
        params={"C": 4.0},
        artifact_size=123456,
        code_version="abc123",
    )


@pytest.fixture
def owls_link(alice, make_link, version, suggest):
    """Alice's link: her tag "birds", the model's "night" (auto-applied), "owls" proposed."""
    link = make_link(alice, "https://example.com/owls", title="Owls at night", tags=["birds"])
    suggest(link, "owls", 0.82, version)
    suggest(link, "night", 0.95, version, status=Suggestion.Status.AUTO_APPLIED)
    link_tag_decide(link=link, name="night", action="auto_apply", actor=None)
    suggest(link, "hidden", 0.9, version, visible=False)  # shadow output
    suggest(link, "answered", 0.7, version, status=Suggestion.Status.REJECTED)
    return link


@pytest.fixture
def model_owner(make_user):
    return _join(make_user("mo"), "model owners")


# --- chips ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/links/", "/links/{pk}/"])
def test_chips_show_open_suggestions_and_the_models_tags_to_the_owner(client, alice, owls_link, path):
    client.force_login(alice)
    html = client.get(path.format(pk=owls_link.pk)).content.decode()
    # The proposed suggestion: name, score, accept and reject, why in the tooltip.
    assert 'data-testid="suggestion" data-tag="owls"' in html
    assert '<span class="chip-score">0.82</span>' in html
    assert 'aria-label="Accept owls"' in html and 'aria-label="Reject owls"' in html
    assert "why: owls (0.40)" in html
    # The auto-applied tag: marked as the model's, with confirm and remove.
    assert re.search(r'<a class="chip chip-model"[^>]*>#night</a><span class="chip-flag">model</span>', html)
    assert 'aria-label="Confirm night"' in html and 'aria-label="Remove night"' in html
    assert f'formaction="/links/{owls_link.pk}/suggestions/accept/" name="tag" value="night"' in html
    # A person's tag is a plain chip.
    assert re.search(r'<a class="chip" href="[^"]*" title="set by a person">#birds</a>', html)
    # Shadow and answered suggestions are not shown; the fallback form is there once.
    assert "hidden" not in re.findall(r'data-tag="([^"]+)"', html)
    assert 'data-tag="answered"' not in html
    assert html.count('id="suggestion-decide-form"') == 1


def test_pages_without_suggestions_have_no_decision_form(client, alice, make_link):
    link = make_link(alice, "https://example.com/plain", tags=["x"])
    client.force_login(alice)
    for path in ("/links/", f"/links/{link.pk}/"):
        html = client.get(path).content.decode()
        assert "suggestion-decide-form" not in html
        assert "#x</a>" in html


def test_accept_with_fetch_answers_json_with_the_new_chips(client, alice, owls_link):
    client.force_login(alice)
    response = client.post(
        f"/links/{owls_link.pk}/suggestions/accept/", {"tag": "owls", "view": "detail"}, **JSON
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["tag"], data["action"], data["detail"]) == ("owls", "accept", "Accepted “owls”.")
    assert "#owls</a>" in data["html"] and 'data-testid="suggestion"' not in data["html"]
    assert tags_of(owls_link) == {"birds": "user", "night": "model", "owls": "user"}
    assert decisions_of(owls_link)[-1] == ("owls", "accept", "ui", "alice")
    decision = TagDecision.objects.filter(link_id=owls_link.pk, action="accept").get()
    assert Suggestion.objects.get(pk=decision.suggestion_id).status == Suggestion.Status.ACCEPTED
    assert ModelVersion.objects.get(pk=decision.model_version_id).number == 3


def test_reject_without_javascript_redirects_back_with_a_message(client, alice, owls_link):
    client.force_login(alice)
    response = client.post(f"/links/{owls_link.pk}/suggestions/reject/", {"tag": "owls", "next": "/links/"})
    assert response.status_code == 302 and response.url == "/links/"
    assert decisions_of(owls_link)[-1] == ("owls", "reject", "ui", "alice")
    assert Suggestion.objects.get(link=owls_link, tag_name="owls").status == Suggestion.Status.REJECTED
    assert "owls" not in tags_of(owls_link)
    page = client.get("/links/").content.decode()
    assert "Rejected “owls”; it will not be suggested for this link again." in page
    assert 'data-tag="owls"' not in page
    # An outside "next" is not followed.
    response = client.post(
        f"/links/{owls_link.pk}/suggestions/reject/", {"tag": "night", "next": "https://evil.example/"}
    )
    assert response.url == f"/links/{owls_link.pk}/"


def test_confirm_and_remove_the_models_tags(client, alice, owls_link, version, suggest):
    client.force_login(alice)
    response = client.post(f"/links/{owls_link.pk}/suggestions/accept/", {"tag": "night"}, **JSON)
    assert response.status_code == 200
    assert tags_of(owls_link)["night"] == "user"
    assert Suggestion.objects.get(link=owls_link, tag_name="night").status == Suggestion.Status.ACCEPTED
    # A model tag with no open suggestion left: remove takes it off, as a rejection.
    link_tag_decide(link=owls_link, name="dusk", action="auto_apply", actor=None)
    response = client.post(f"/links/{owls_link.pk}/suggestions/reject/", {"tag": "dusk"}, **JSON)
    assert response.status_code == 200
    assert "dusk" not in tags_of(owls_link)
    assert decisions_of(owls_link)[-2:] == [
        ("night", "accept", "ui", "alice"),
        ("dusk", "reject", "ui", "alice"),
    ]


def test_the_services_errors_are_shown(client, alice, owls_link):
    client.force_login(alice)
    response = client.post(f"/links/{owls_link.pk}/suggestions/accept/", {"tag": "nothing"}, **JSON)
    assert response.status_code == 400
    assert response.json() == {"detail": "There is no open suggestion of 'nothing' for this link."}
    response = client.post(f"/links/{owls_link.pk}/suggestions/reject/", {"tag": "birds"}, follow=True)
    assert "was set by a person; remove it instead of rejecting it." in response.content.decode()
    response = client.post(f"/links/{owls_link.pk}/suggestions/promote/", {"tag": "owls"}, **JSON)
    assert response.status_code == 400 and "Use one of" in response.json()["detail"]
    assert decisions_of(owls_link) == [("birds", "add", "cli", "alice")]


def test_another_users_link_is_a_404(client, bob, owls_link):
    client.force_login(bob)
    for action in ("accept", "reject"):
        assert client.post(f"/links/{owls_link.pk}/suggestions/{action}/", {"tag": "owls"}).status_code == 404
        response = client.post(f"/links/{owls_link.pk}/suggestions/{action}/", {"tag": "owls"}, **JSON)
        assert response.status_code == 404
    assert Suggestion.objects.get(link=owls_link, tag_name="owls").status == Suggestion.Status.PROPOSED
    assert decisions_of(owls_link) == [("birds", "add", "cli", "alice")]


def test_deciding_needs_a_signed_in_user_and_a_post(client, alice, owls_link):
    assert client.post(f"/links/{owls_link.pk}/suggestions/accept/", {"tag": "owls"}).status_code == 302
    client.force_login(alice)
    assert client.get(f"/links/{owls_link.pk}/suggestions/accept/?tag=owls").status_code == 405


def test_decisions_need_the_csrf_token(alice, owls_link):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(f"/links/{owls_link.pk}/suggestions/accept/", {"tag": "owls"}, **JSON)
    assert response.status_code == 403
    assert Suggestion.objects.get(link=owls_link, tag_name="owls").status == Suggestion.Status.PROPOSED


def _seed(owner, version, n: int) -> None:
    tags = [Tag.objects.create(owner=owner, name=f"tag{i}", slug=f"tag{i}") for i in range(3)]
    links = Link.objects.bulk_create(
        [
            Link(owner=owner, url=f"https://example.com/{i}", domain="example.com", title=f"L{i}")
            for i in range(n)
        ]
    )
    TaggedLink.objects.bulk_create(
        [TaggedLink(content_object=link, tag=tags[i % 3], origin="user") for i, link in enumerate(links)]
        + [
            TaggedLink(content_object=link, tag=tags[(i + 1) % 3], origin="model")
            for i, link in enumerate(links)
        ]
    )
    Suggestion.objects.bulk_create(
        [
            Suggestion(
                link=link, tag_name=name, tag_key=name, score=0.5, model_version=version, explanation=[]
            )
            for link in links
            for name in ("alpha", "beta")
        ]
    )


@pytest.mark.parametrize("path", ["/links/", "/links/?tag=tag1"])
def test_link_list_query_count_does_not_grow_with_suggestions(client, make_user, version, path):
    small, large = make_user("small"), make_user("large")
    _seed(small, version, 3)
    _seed(large, version, 50)
    counts = []
    for user in (small, large):
        client.force_login(user)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(path)
        assert response.status_code == 200
        assert 'data-testid="suggestion"' in response.content.decode()
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


# --- model pages ------------------------------------------------------------------------------


MODEL_GETS = ["/models/", "/models/3/", "/models/3/card.md"]


def test_model_pages_are_a_404_for_other_users(client, alice, version):
    run = TrainingRun.objects.create(trigger="manual")
    client.force_login(alice)
    for path in [*MODEL_GETS, f"/models/training/{run.pk}/"]:
        assert client.get(path).status_code == 404, path
    for path in ("/models/train/", "/models/3/stage/", "/models/3/rollback/"):
        assert client.post(path, {"stage": "retired", "reason": "r"}).status_code == 404, path
    assert TrainingRun.objects.count() == 1 and StageEvent.objects.count() == 0
    assert 'href="/models/"' not in client.get("/links/").content.decode()


def test_model_pages_for_a_model_owner(client, model_owner, version):
    client.force_login(model_owner)
    for path in MODEL_GETS:
        assert client.get(path).status_code == 200, path
    html = client.get("/models/").content.decode()
    assert 'href="/models/">Models</a>' in html  # the header link
    assert 'href="/models/3/">v3</a>' in html
    assert "<td>0.743</td>" in html  # recall@3
    assert 'data-testid="train-now"' in html
    assert 'aria-label="Reason for moving v3"' in html and "Roll back v3" in html
    assert "score ≥ 0.9 (marked as the model" in html  # the policy


def test_staff_may_look_but_not_act(client, make_user, version):
    staff = make_user("sam")
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    client.force_login(staff)
    html = client.get("/models/").content.decode()
    assert 'href="/models/">Models</a>' in html
    assert 'data-testid="read-only"' in html and 'data-testid="train-now"' not in html
    assert "Change stage" not in html
    response = client.post("/models/train/", follow=True)
    assert "Only model owners may do this." in response.content.decode()
    assert not TrainingRun.objects.exists()


def test_train_now_queues_a_training_run(
    client, model_owner, monkeypatch, django_capture_on_commit_callbacks
):
    from mlops import tasks

    queued = []
    monkeypatch.setattr(
        tasks.train_tag_model, "apply_async", lambda args, kwargs=None, **options: queued.append(args[0])
    )
    client.force_login(model_owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/models/train/", follow=True)
    run = TrainingRun.objects.get()
    assert (run.status, run.trigger, run.requested_by) == ("pending", "manual", model_owner)
    assert queued == [run.pk]
    html = response.content.decode()
    assert f"Training run {run.pk} is queued." in html
    assert f'data-poll="/models/training/{run.pk}/"' in html and "<progress" in html
    # Its progress, for the bar.
    TrainingRun.objects.filter(pk=run.pk).update(status="running", done=3, total=10, message="fitting")
    data = client.get(f"/models/training/{run.pk}/").json()
    assert data == {
        "id": run.pk,
        "status": "running",
        "status_label": "training",
        "finished": False,
        "done": 3,
        "total": 10,
        "message": "fitting",
        "version": None,
    }
    # A second click while one waits does not queue another.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/models/train/", follow=True)
    assert TrainingRun.objects.count() == 1 and queued == [run.pk]
    assert f"Training run {run.pk} is already training." in response.content.decode()


def test_promote_with_a_reason_writes_a_stage_event(client, model_owner, version, make_version):
    candidate = make_version(Stage.CANDIDATE, number=4)
    client.force_login(model_owner)
    response = client.post("/models/4/stage/", {"stage": "shadow", "reason": ""}, follow=True)
    assert "Give a reason for the change of stage." in response.content.decode()
    assert not StageEvent.objects.exists()
    response = client.post(
        "/models/4/stage/", {"stage": "production", "reason": "better on recall", "next": "/models/4/"}
    )
    assert response.status_code == 302 and response.url == "/models/4/"
    candidate.refresh_from_db()
    version.refresh_from_db()
    assert (candidate.stage, version.stage) == ("production", "retired")
    event = StageEvent.objects.get(version=candidate)
    assert (event.from_stage, event.to_stage, event.actor, event.reason) == (
        "candidate",
        "production",
        model_owner,
        "better on recall",
    )
    card = client.get("/models/4/").content.decode()
    assert "candidate → production" in card and "better on recall" in card
    # A move the life cycle does not allow: the service's message.
    response = client.post("/models/4/stage/", {"stage": "shadow", "reason": "x"}, follow=True)
    assert "v4 cannot go from production to shadow." in response.content.decode()


def test_rollback_brings_the_previous_production_back(client, model_owner, version, make_version):
    client.force_login(model_owner)
    make_version(Stage.CANDIDATE, number=4)
    client.post("/models/3/stage/", {"stage": "retired", "reason": "make room"})  # nothing in production
    client.post("/models/3/stage/", {"stage": "production", "reason": "first"})
    client.post("/models/4/stage/", {"stage": "production", "reason": "second"})
    response = client.post("/models/4/rollback/", {"reason": ""}, follow=True)
    assert "Give a reason for the rollback." in response.content.decode()
    response = client.post("/models/4/rollback/", {"reason": "acceptance dropped"}, follow=True)
    assert "v4 was rolled back; v3 is in production again." in response.content.decode()
    stages = dict(StageEvent.objects.order_by("-id").values_list("version__number", "to_stage")[:2])
    assert stages == {3: "production", 4: "retired"}


def test_the_model_card_page(client, model_owner, version):
    client.force_login(model_owner)
    html = client.get("/models/3/").content.decode()
    # Intended use, filled with the version's facts.
    assert "ranks the 3 tags it was trained on" in html
    assert "A tag needs at least 3 examples to be learned" in html
    assert "fixed holdout of 48 links" in html
    assert "192 labelled links (144 for training) of 3 consenting users" in html
    # Metrics, worst tags first, gate, lineage.
    assert "<td>recall_at_3</td><td>0.743</td>" in html
    worst = html.split('data-testid="card-worst-tags"')[1].split("</table>")[0]
    assert worst.index("night") < worst.index("birds") < worst.index("owls")
    assert "no production version to compare with" in html
    assert "abc123" in html and "123456 bytes" in html


def test_export_model_card_writes_markdown_with_the_metrics(tmp_path, version, model_owner):
    from mlops.services import registry

    registry.stage_change(
        version=version, to_stage="retired", actor=model_owner, reason="a | pipe\nand a line"
    )
    call_command("export_model_card", "--version", "3", "--out", str(tmp_path))
    text = (tmp_path / "v3.md").read_text()
    assert text.startswith("# Model card: v3\n")
    assert "| recall_at_3 | 0.743 |" in text
    assert "| precision_at_1 | 0.812 |" in text  # 0.8125 rounds half to even
    assert "| night | 0.130 | 0.200 | 0.100 | 4 |" in text
    assert "| production → retired | mo | a \\| pipe and a line |" in text
    assert "ranks the 3 tags it was trained on" in text
    # Without --version: production, if any; none is now.
    with pytest.raises(Exception, match="No version is in production"):
        call_command("export_model_card", "--version", "production", "--out", str(tmp_path))
