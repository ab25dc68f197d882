"""The model dashboard: who may see it and act on its alerts, the series its JSON builds from
metric points, stage events, drift runs and alert events, the bounds on those series, and a
query count that does not grow with the data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mlops import dashboard
from mlops.models import (
    AlertEvent,
    AlertRule,
    DriftResult,
    DriftRun,
    MetricPoint,
    Stage,
    StageEvent,
)

pytestmark = pytest.mark.django_db

PAGE = "/models/dashboard/"
DATA = "/models/dashboard/data.json"


@pytest.fixture
def staff(make_user):
    user = make_user("sam")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


@pytest.fixture
def now():
    return timezone.now()


def point(name: str, value: float, at, version=None, count: int = 10, **labels) -> MetricPoint:
    return MetricPoint.objects.create(
        name=name, value=value, model_version=version, count=count, recorded_at=at, labels=labels
    )


def stage_event(version, from_stage: str, to_stage: str, at, actor: str = "mo", reason: str = "why") -> None:
    StageEvent.objects.create(
        version=version, from_stage=from_stage, to_stage=to_stage, actor_name=actor, reason=reason, at=at
    )


def alert(name: str, severity: str, fired_at, state: str = AlertEvent.State.FIRING) -> AlertEvent:
    rule = AlertRule.objects.create(
        name=name, metric="online_acceptance_rate", comparison="lt", threshold=0.5, severity=severity
    )
    return AlertEvent.objects.create(
        rule=rule,
        state=state,
        message=f"{name}: acceptance 0.31 is below 0.5 over the last hour",
        observed=0.31,
        breach_started_at=fired_at,
        fired_at=fired_at,
        resolved_at=fired_at if state == AlertEvent.State.RESOLVED else None,
    )


# --- access -----------------------------------------------------------------------------------


def test_the_dashboard_is_a_404_for_other_users(client, alice, make_version):
    event = alert("Acceptance low", "warning", timezone.now())
    client.force_login(alice)
    assert client.get(PAGE).status_code == 404
    assert client.get(DATA).status_code == 404
    assert client.post(f"/models/dashboard/alerts/{event.pk}/acknowledge/").status_code == 404
    assert client.post(f"/models/dashboard/alert-rules/{event.rule_id}/snooze/").status_code == 404
    event.refresh_from_db()
    assert event.state == "firing" and event.rule.snoozed_until is None
    assert "/models/dashboard/" not in client.get("/links/").content.decode()


def test_the_dashboard_needs_a_signed_in_user(client):
    for path in (PAGE, DATA):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), path


@pytest.mark.parametrize(
    ("who", "acknowledge", "snooze"),
    [("owner", True, True), ("reviewer", True, False), ("staff", False, False)],
)
def test_who_sees_the_dashboard_and_its_alert_buttons(
    client, owner_of_models, reviewer, staff, who, acknowledge, snooze
):
    user = {"owner": owner_of_models, "reviewer": reviewer, "staff": staff}[who]
    alert("Acceptance low", "critical", timezone.now())
    client.force_login(user)
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="open-alerts"' in html and "Acceptance low" in html
    assert ("Acknowledge</button>" in html) is acknowledge
    assert ("Snooze 1 h</button>" in html) is snooze
    for key in ("offline", "online", "drift", "quality", "stages", "alerts"):
        assert f'<canvas id="chart-{key}" role="img" aria-labelledby="chart-{key}-title"' in html
    assert "vendor/chartjs/chart.umd.min.js" in html and "mlops/dashboard.js" in html
    assert client.get(DATA).status_code == 200
    # The header leads there: to the model list for those who may see it, else to the dashboard.
    header = client.get("/links/").content.decode()
    expected = (
        '<a href="/models/dashboard/">Models</a>' if who == "reviewer" else '<a href="/models/">Models</a>'
    )
    assert expected in header


def test_the_model_list_links_to_the_dashboard(client, owner_of_models):
    client.force_login(owner_of_models)
    assert 'href="/models/dashboard/"' in client.get("/models/").content.decode()


def test_staff_may_not_acknowledge_and_reviewers_may_not_snooze(client, staff, reviewer):
    event = alert("Acceptance low", "warning", timezone.now())
    client.force_login(staff)
    response = client.post(f"/models/dashboard/alerts/{event.pk}/acknowledge/", follow=True)
    assert "Only model owners and reviewers may acknowledge alerts." in response.content.decode()
    client.force_login(reviewer)
    response = client.post(f"/models/dashboard/alert-rules/{event.rule_id}/snooze/", follow=True)
    assert "Only model owners may snooze alert rules." in response.content.decode()
    event.refresh_from_db()
    assert event.state == "firing" and event.acknowledged_at is None and event.rule.snoozed_until is None
    assert client.post("/models/dashboard/alerts/999999/acknowledge/").status_code == 404


def test_acknowledge_and_snooze_call_the_alert_services(client, owner_of_models, reviewer):
    event = alert("Acceptance low", "warning", timezone.now())
    client.force_login(reviewer)
    response = client.post(f"/models/dashboard/alerts/{event.pk}/acknowledge/", follow=True)
    assert "Acknowledged the alert of “Acceptance low”." in response.content.decode()
    event.refresh_from_db()
    assert event.state == "acknowledged" and event.acknowledged_by == reviewer

    client.force_login(owner_of_models)
    before = timezone.now()
    response = client.post(f"/models/dashboard/alert-rules/{event.rule_id}/snooze/", follow=True)
    assert "Snoozed “Acceptance low” until" in response.content.decode()
    event.rule.refresh_from_db()
    assert before + timedelta(minutes=59) < event.rule.snoozed_until <= timezone.now() + timedelta(hours=1)


def test_acknowledging_a_resolved_alert_says_why_not(client, reviewer):
    event = alert("Acceptance low", "warning", timezone.now(), state=AlertEvent.State.RESOLVED)
    client.force_login(reviewer)
    response = client.post(f"/models/dashboard/alerts/{event.pk}/acknowledge/", follow=True)
    assert response.status_code == 200
    assert "there is nothing to acknowledge" in response.content.decode()
    event.refresh_from_db()
    assert event.state == "resolved" and event.acknowledged_by is None


def test_acknowledge_and_snooze_are_posts(client, owner_of_models):
    event = alert("Acceptance low", "warning", timezone.now())
    client.force_login(owner_of_models)
    assert client.get(f"/models/dashboard/alerts/{event.pk}/acknowledge/").status_code == 405
    assert client.get(f"/models/dashboard/alert-rules/{event.rule_id}/snooze/").status_code == 405


# --- the data ---------------------------------------------------------------------------------


def test_the_json_builds_every_series_from_the_rows(client, owner_of_models, make_version, now):
    v1 = make_version(
        Stage.RETIRED,
        number=1,
        metrics={"recall_at_3": 0.6, "precision_at_1": 0.7, "micro_f1": 0.5, "macro_f1": 0.4},
    )
    v2 = make_version(
        Stage.PRODUCTION,
        number=2,
        metrics={"recall_at_3": 0.66, "precision_at_1": 0.72, "micro_f1": 0.55, "macro_f1": 0.41},
    )
    stage_event(v1, "", "production", now - timedelta(days=20), actor="system", reason="first version")
    stage_event(v2, "candidate", "shadow", now - timedelta(days=5), reason="gate passed")
    stage_event(v2, "shadow", "production", now - timedelta(days=2), reason="better acceptance")
    stage_event(v1, "production", "retired", now - timedelta(days=2), reason="replaced by v2")
    stage_event(v1, "candidate", "shadow", now - timedelta(days=120))  # before the window
    for day, (a1, a2) in enumerate([(0.5, 0.6), (0.52, 0.63), (0.55, 0.7)]):
        at = now - timedelta(days=3 - day)
        point("online_acceptance_rate", a1, at, v1, count=40 + day)
        point("online_acceptance_rate", a2, at, v2)
    point("online_override_rate", 0.2, now - timedelta(days=1), v2)
    point("online_acceptance_rate", 0.1, now - timedelta(days=91), v1)  # too old
    point("offline_recall_at_3", 0.66, now, v2)  # not an online metric
    for day in range(3):
        at = now - timedelta(days=3 - day)
        point("drift_domain", 0.05 * (day + 1), at, method="psi")
        point("drift_text_length", 0.1, at, method="ks")
    point("quality_empty_text_rate", 0.12, now - timedelta(hours=2))
    run = DriftRun.objects.create(trigger="schedule", status="done", drifted=True, finished_at=now)
    DriftResult.objects.create(
        run=run, feature="domain", kind="categorical", method="psi", statistic=0.15, threshold=0.2
    )
    DriftResult.objects.create(
        run=run, feature="text_length", kind="numeric", method="ks", statistic=0.1, p_value=0.001,
        threshold=0.01, drifted=True,
    )  # fmt: skip
    DriftResult.objects.create(
        run=run, feature="empty_text_rate", kind="quality", method="rate", statistic=0.12, threshold=0.2
    )
    alert("Acceptance low", "critical", now - timedelta(days=2))
    alert("Override high", "warning", now, state=AlertEvent.State.RESOLVED)

    client.force_login(owner_of_models)
    response = client.get(DATA)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    data = response.json()
    ms = dashboard._ms

    assert data["limits"] == {"days": 90, "points_per_series": 5000, "versions": 100}
    assert abs(data["since"] - ms(now - timedelta(days=90))) < 60_000

    offline = data["offline"]
    assert offline["production"] == 2
    assert [m["key"] for m in offline["metrics"]] == ["recall_at_3", "precision_at_1", "micro_f1", "macro_f1"]
    assert [(v["number"], v["stage"], v["values"]["recall_at_3"]) for v in offline["versions"]] == [
        (1, "retired", 0.6),
        (2, "production", 0.66),
    ]

    online = data["online"]["metrics"]
    acceptance = online["online_acceptance_rate"]["series"]
    assert [(s["version"], s["stage"]) for s in acceptance] == [(1, "retired"), (2, "production")]
    assert [p[1:] for p in acceptance[0]["points"]] == [[0.5, 40], [0.52, 41], [0.55, 42]]
    assert [p[1] for p in acceptance[1]["points"]] == [0.6, 0.63, 0.7]
    times = [p[0] for p in acceptance[1]["points"]]
    assert times == sorted(times) and times[0] == ms(now - timedelta(days=3))
    assert not acceptance[0]["truncated"]
    assert [p[1] for p in online["online_override_rate"]["series"][0]["points"]] == [0.2]
    assert online["online_precision_at_3"]["series"] == [] and online["shadow_agreement"]["series"] == []

    drift = data["drift"]
    assert drift["run"]["id"] == run.pk and drift["run"]["drifted"] is True
    by_feature = {s["feature"]: s for s in drift["series"]}
    assert set(by_feature) == {"domain", "text_length"}
    assert [round(p[1], 2) for p in by_feature["domain"]["points"]] == [0.05, 0.1, 0.15]
    assert by_feature["domain"]["threshold"] == 0.2 and by_feature["domain"]["method"] == "psi"
    # KS judges by its p-value, which the points do not hold: no threshold line.
    assert by_feature["text_length"]["threshold"] is None and by_feature["text_length"]["drifted"] is True
    [quality] = data["quality"]["series"]
    assert quality["feature"] == "empty_text_rate" and quality["threshold"] == 0.2
    assert [p[1] for p in quality["points"]] == [0.12]

    events = data["stages"]["events"]
    # Oldest first; of two changes at the same moment, the one written first.
    assert [(e["version"], e["from"], e["to"]) for e in events] == [
        (1, "", "production"),
        (2, "candidate", "shadow"),
        (2, "shadow", "production"),
        (1, "production", "retired"),
    ]
    assert events[0] == {
        "at": ms(now - timedelta(days=20)),
        "version": 1,
        "from": "",
        "to": "production",
        "actor": "system",
        "automatic": False,
        "reason": "first version",
    }
    assert data["stages"]["stages"] == ["candidate", "shadow", "canary", "production", "retired"]

    alerts = data["alerts"]
    today = timezone.localdate(now)
    assert alerts["days"] == [(today - timedelta(days=2 - i)).isoformat() for i in range(3)]
    assert alerts["counts"] == {"critical": [1, 0, 0], "warning": [0, 0, 1]}


def test_an_empty_installation_has_empty_series(client, owner_of_models):
    client.force_login(owner_of_models)
    data = client.get(DATA).json()
    assert data["offline"]["versions"] == [] and data["offline"]["production"] is None
    assert all(not m["series"] for m in data["online"]["metrics"].values())
    assert data["drift"] == {"run": None, "series": []}
    assert data["quality"] == {"series": []}
    assert data["stages"]["events"] == []
    assert data["alerts"] == {"days": [], "counts": {}}
    html = client.get(PAGE).content.decode()
    assert 'data-testid="no-open-alerts"' in html
    assert html.count("data-empty hidden>No data yet:") == 6


def test_a_threshold_from_the_points_labels_until_a_drift_run_has_one(client, owner_of_models, now):
    point("drift_domain", 0.1, now, method="psi", threshold=0.25)
    point("drift_text_length", 0.3, now, method="ks", threshold=0.01)
    client.force_login(owner_of_models)
    by_feature = {s["feature"]: s for s in client.get(DATA).json()["drift"]["series"]}
    assert by_feature["domain"]["threshold"] == 0.25
    assert by_feature["text_length"]["threshold"] is None


def test_thresholds_come_from_each_features_latest_measured_result(client, owner_of_models, now):
    point("drift_domain", 0.1, now, method="psi")
    point("quality_suspect_rate", 0.05, now, method="rate")
    older = DriftRun.objects.create(
        trigger="schedule", status="done", finished_at=now - timedelta(days=1), drifted=True
    )
    DriftResult.objects.create(
        run=older, feature="domain", kind="categorical", method="psi", statistic=0.3, threshold=0.2,
        drifted=True,
    )  # fmt: skip
    # The newest run was skipped (no production reference): only its quality checks ran, and a
    # feature without enough data has no statistic.
    newest = DriftRun.objects.create(trigger="schedule", status="skipped", finished_at=now)
    DriftResult.objects.create(
        run=newest, feature="suspect_rate", kind="quality", method="rate", statistic=0.05, threshold=0.1
    )
    DriftResult.objects.create(
        run=newest, feature="domain", kind="categorical", method="insufficient_data", threshold=0.5
    )
    DriftRun.objects.create(trigger="schedule", status="running")  # not finished: not read
    client.force_login(owner_of_models)
    data = client.get(DATA).json()
    [domain] = data["drift"]["series"]
    assert (domain["threshold"], domain["method"], domain["drifted"]) == (0.2, "psi", True)
    [suspect] = data["quality"]["series"]
    assert (suspect["threshold"], suspect["method"]) == (0.1, "rate")
    assert data["drift"]["run"]["id"] == newest.pk


def test_each_series_keeps_its_newest_points(client, owner_of_models, make_version, now, monkeypatch):
    monkeypatch.setattr(dashboard, "MAX_POINTS", 3)
    v1, v2 = make_version(number=1), make_version(Stage.SHADOW, number=2)
    for i in range(5):
        point("online_acceptance_rate", i / 10, now - timedelta(hours=5 - i), v1)
        point("drift_domain", i / 10, now - timedelta(hours=5 - i))
    point("online_acceptance_rate", 0.9, now, v2)
    for i in range(4):
        stage_event(v2, "candidate", "shadow", now - timedelta(hours=4 - i))
    client.force_login(owner_of_models)
    data = client.get(DATA).json()
    first, second = data["online"]["metrics"]["online_acceptance_rate"]["series"]
    assert [p[1] for p in first["points"]] == [0.2, 0.3, 0.4] and first["truncated"] is True
    assert [p[1] for p in second["points"]] == [0.9] and second["truncated"] is False
    [drift] = data["drift"]["series"]
    assert [p[1] for p in drift["points"]] == [0.2, 0.3, 0.4] and drift["truncated"] is True
    events = data["stages"]["events"]
    assert len(events) == 3 and data["stages"]["truncated"] is True
    assert events[-1]["at"] == dashboard._ms(now - timedelta(hours=1))


def _seed(make_version, now, versions: int, days: int, features: int, first: int) -> None:
    for n in range(first, first + versions):
        version = make_version(Stage.CANARY if n == first else Stage.RETIRED, number=n)
        stage_event(version, "candidate", "shadow", now - timedelta(days=1, minutes=n))
        for day in range(days):
            at = now - timedelta(days=day, minutes=n)
            for name in ("online_acceptance_rate", "online_override_rate", "online_precision_at_3"):
                point(name, 0.5, at, version)
    for f in range(features):
        for day in range(days):
            point(f"drift_feature{first}_{f}", 0.1, now - timedelta(days=day))
            point(f"quality_check{first}_{f}", 0.1, now - timedelta(days=day))
    run = DriftRun.objects.create(trigger="schedule", status="done", finished_at=now)
    for f in range(features):
        DriftResult.objects.create(
            run=run, feature=f"feature{first}_{f}", kind="numeric", method="psi", threshold=0.2
        )
    for i in range(features):
        alert(f"rule {first} {i}", "warning", now - timedelta(days=i))


def test_the_json_costs_the_same_queries_for_more_data(client, owner_of_models, make_version, now):
    client.force_login(owner_of_models)
    counts = []
    for first, versions, days, features in ((1, 1, 1, 1), (10, 6, 20, 5)):
        _seed(make_version, now, versions, days, features, first)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(DATA)
        assert response.status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts
    # The session, the user and their groups, then one query per kind of series: versions,
    # online points, the latest drift run's results, drift points, quality points, stage events,
    # alert counts.
    assert counts[1] <= 3 + 7, counts


def test_the_page_costs_the_same_queries_for_more_alerts(client, owner_of_models):
    client.force_login(owner_of_models)
    counts = []
    for names in (["one"], [f"rule {i}" for i in range(8)]):
        for name in names:
            alert(name, "info", timezone.now())
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(PAGE)
        assert response.status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts
