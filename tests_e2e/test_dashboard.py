"""The model dashboard: a model owner opens it and every chart is drawn by Chart.js from the rows
in the database (the right number of series, and their colours on the canvas), while the chart
without data says so."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from playwright.sync_api import expect

from mlops.models import MetricPoint, ModelVersion, Stage, StageEvent

pytestmark = pytest.mark.browser

# For each chart: how many datasets Chart.js should hold.
EXPECTED_DATASETS = {
    "offline": 4,  # recall@3, precision@1, micro F1, macro F1
    "online": 2,  # acceptance of v1 and of v2
    "drift": 2,  # two features, no drift run yet, so no threshold line
    "quality": 1,  # one check
    "stages": 3,  # the stages entered: shadow, production, retired
}

# The chart instance, its datasets, and how many pixels of the plot area (not the legend) have
# each dataset's colour: a canvas with axes but no lines or points would have none.
CHART_STATE = """
(canvas) => {
  const chart = Chart.getChart(canvas);
  if (!chart) return null;
  const {width, height} = canvas;
  const context = canvas.getContext("2d");
  const ratio = chart.currentDevicePixelRatio;
  const area = chart.chartArea;
  const [x0, y0] = [Math.floor(area.left * ratio), Math.floor(area.top * ratio)];
  const [x1, y1] = [Math.ceil(area.right * ratio), Math.ceil(area.bottom * ratio)];
  const plot = context.getImageData(x0, y0, x1 - x0, y1 - y0).data;
  const rgb = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  const seen = chart.data.datasets.map((dataset) => {
    const [r, g, b] = rgb(dataset.borderColor);
    let n = 0;
    for (let i = 0; i < plot.length; i += 4) {
      if (plot[i + 3] > 200 && Math.abs(plot[i] - r) < 16 && Math.abs(plot[i + 1] - g) < 16
          && Math.abs(plot[i + 2] - b) < 16) n++;
    }
    return n;
  });
  const pixels = context.getImageData(0, 0, width, height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
  return {
    datasets: chart.data.datasets.map((d) => d.label),
    seen,
    painted,
    area: width * height,
    dataUrl: canvas.toDataURL().length,
    blank: (() => {
      const empty = document.createElement("canvas");
      empty.width = width;
      empty.height = height;
      return empty.toDataURL().length;
    })(),
  };
}
"""


def _version(number: int, stage: str, recall: float) -> ModelVersion:
    return ModelVersion.objects.create(
        number=number,
        design="test",
        stage=stage,
        artifact_sha256=f"{number:064x}",
        artifact_path=f"models/test/{number}.bin",
        format_version=1,
        sklearn_version="test",
        python_version="3.11",
        data_fingerprint=f"{number:064x}",
        metrics={
            "recall_at_3": recall,
            "precision_at_1": recall + 0.1,
            "micro_f1": recall - 0.1,
            "macro_f1": recall - 0.2,
        },
    )


def test_a_model_owner_sees_every_chart_drawn(sign_in, page, make_user):
    now = timezone.now()
    v1 = _version(1, Stage.RETIRED, 0.6)
    v2 = _version(2, Stage.PRODUCTION, 0.68)
    for version, from_stage, to_stage, days, reason in (
        (v1, "candidate", "production", 12, "the first version"),
        (v2, "candidate", "shadow", 6, "passed the gate"),
        (v2, "shadow", "production", 3, "agrees with production on 80% of links"),
        (v1, "production", "retired", 3, "replaced by v2"),
    ):
        StageEvent.objects.create(
            version=version,
            from_stage=from_stage,
            to_stage=to_stage,
            actor_name="mo",
            reason=reason,
            at=now - timedelta(days=days),
        )
    for day in range(5):
        at = now - timedelta(days=5 - day)
        MetricPoint.objects.create(
            name="online_acceptance_rate", model_version=v1, value=0.5 + day / 50, count=40, recorded_at=at
        )
        MetricPoint.objects.create(
            name="online_acceptance_rate", model_version=v2, value=0.6 + day / 25, count=40, recorded_at=at
        )
        for feature, base in (("domain", 0.05), ("text_length", 0.12)):
            MetricPoint.objects.create(
                name=f"drift_{feature}",
                value=base + day / 100,
                count=200,
                recorded_at=at,
                labels={"method": "psi"},
            )
        MetricPoint.objects.create(name="quality_empty_text_rate", value=0.1, count=90, recorded_at=at)

    owner = make_user("mo")
    owner.groups.add(Group.objects.get_or_create(name="model owners")[0])
    sign_in(page, owner, "/models/")
    page.get_by_test_id("dashboard-link").click()
    expect(page).to_have_url(re.compile(r"/models/dashboard/$"))
    expect(page.locator("[data-dashboard]")).to_have_attribute("data-state", "ready")

    for key, count in EXPECTED_DATASETS.items():
        figure = page.locator(f'[data-chart="{key}"]')
        expect(figure).to_have_attribute("data-state", "drawn")
        canvas = figure.locator("canvas")
        expect(canvas).to_be_visible()
        expect(canvas).to_have_accessible_name(figure.locator(".chart-title").inner_text())
        state = canvas.evaluate(CHART_STATE)
        assert state is not None, f"{key}: no Chart.js instance on the canvas"
        assert len(state["datasets"]) == count, (key, state["datasets"])
        assert state["dataUrl"] > state["blank"] + 2_000, (key, state["dataUrl"], state["blank"])
        assert state["painted"] > state["area"] * 0.01, (key, state["painted"], state["area"])
        assert all(n > 0 for n in state["seen"]), f"{key}: a dataset left no pixels: {state}"

    assert page.locator('[data-chart="online"] canvas').evaluate(
        "(c) => Chart.getChart(c).data.datasets.map((d) => d.label)"
    ) == ["v1 (retired)", "v2 (production)"]
    assert page.locator('[data-chart="stages"] canvas').evaluate(
        "(c) => Chart.getChart(c).data.datasets.map((d) => [d.label, d.data.length])"
    ) == [["shadow", 1], ["production", 2], ["retired", 1]]

    # The override rate has no points yet: that chart says so instead of drawing empty axes.
    page.get_by_role("button", name="Override rate").click()
    online = page.locator('[data-chart="online"]')
    expect(online).to_have_attribute("data-state", "empty")
    expect(online.locator("[data-empty]")).to_be_visible()
    expect(online.locator("[data-empty]")).to_contain_text("No data yet")
    page.get_by_role("button", name="Acceptance rate").click()
    expect(online).to_have_attribute("data-state", "drawn")
    assert online.locator("canvas").evaluate("(c) => Chart.getChart(c).data.datasets.length") == 2

    # No alert has fired: the list and the chart say so.
    expect(page.get_by_test_id("no-open-alerts")).to_be_visible()
    alerts = page.locator('[data-chart="alerts"]')
    expect(alerts).to_have_attribute("data-state", "empty")
    expect(alerts.locator("[data-empty]")).to_contain_text("No data yet")
    assert alerts.locator("canvas").evaluate("(c) => Chart.getChart(c) === undefined")
