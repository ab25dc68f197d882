"""Check the Grafana dashboards in deploy/grafana/dashboards (deploy/check.sh runs this).

For every dashboard JSON file: it parses; it has the keys Grafana needs; its uid is unique; panel
ids are unique (rows' nested panels included); panels are core panel types; every panel, query
and template variable uses the data source with uid ``prometheus``; every query has a non-empty
expression that names only metrics and labels of the metric catalogue (docs/monitoring.md) or
recording rules of deploy/prometheus/rules. The same name check runs over the rule files.

With promtool on the PATH, every expression is also parsed as PromQL: they are written into a
temporary rules file, one recording rule each, and ``promtool check rules`` parses it. Grafana's
variables ($__rate_interval, $view, ...) are replaced by plausible values first.

    python deploy/validate_dashboards.py [DASHBOARD.json ...]

Exits 1 and lists every problem found, 0 when there is none.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parent
DASHBOARDS = DEPLOY / "grafana" / "dashboards"
RULES = DEPLOY / "prometheus" / "rules"
DATASOURCE_UID = "prometheus"

REQUIRED_KEYS = ("title", "uid", "schemaVersion", "panels", "time", "templating", "annotations")
# Panels that ship with Grafana: the dashboards must not need a plugin.
CORE_PANELS = {
    "row", "timeseries", "stat", "gauge", "bargauge", "table", "state-timeline", "status-history",
    "barchart", "heatmap", "histogram", "piechart", "text", "logs", "alertlist", "dashlist", "news",
}  # fmt: skip

# The metric catalogue: name -> labels the application exports (docs/monitoring.md). Prometheus adds
# the target labels below to every series it scrapes.
TARGET_LABELS = {"job", "instance", "service"}
HISTOGRAMS = {
    "django_http_requests_latency_seconds_by_view_method": {"view", "method"},
    "linkhub_snapshot_stage_seconds": {"stage"},
    "linkhub_prediction_seconds": {"role"},
}
METRICS: dict[str, set[str]] = {
    "django_http_responses_total_by_status_view_method_total": {"status", "view", "method"},
    "django_http_requests_total_by_method_total": {"method"},
    "linkhub_snapshots_total": {"outcome", "reason"},
    "linkhub_queue_depth": {"queue"},
    "linkhub_suggestions_made_total": {"kind"},
    "linkhub_suggestion_decisions_total": {"outcome"},
    "linkhub_tag_decisions_total": {"action", "source"},
    "linkhub_model_production_version": set(),
    "linkhub_model_production_age_seconds": set(),
    "linkhub_model_online_acceptance_rate": {"stage"},
    "linkhub_drift_score": {"feature", "method"},
    "linkhub_drift_detected": {"feature"},
    "linkhub_data_quality": {"check"},
    "linkhub_alerts_open": {"severity"},
    "linkhub_training_runs_total": {"status"},
    "up": set(),
}
for _name, _labels in HISTOGRAMS.items():
    METRICS[f"{_name}_bucket"] = _labels | {"le"}
    METRICS[f"{_name}_sum"] = _labels
    METRICS[f"{_name}_count"] = _labels
# Prometheus' own series of alerts; its labels are each alert's, so they are not checked.
UNCHECKED_LABELS = {"ALERTS", "ALERTS_FOR_STATE"}

STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}")
MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
# Names the catalogue covers: ours and django-prometheus', and recording rules (they have colons).
CHECKED_NAME = re.compile(r"(?<![\w:])(?:(?:linkhub|django)_\w+|[a-zA-Z_]\w*:[\w:]+)")
GRAFANA_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
GRAFANA_BUILTINS = {
    "__rate_interval": "5m",
    "__interval": "1m",
    "__range": "1d",
    "__range_s": "86400",
    "__range_ms": "86400000",
    "__interval_ms": "60000",
}


def recording_rule_names() -> set[str]:
    names = set()
    for path in sorted(RULES.glob("*.yml")):
        for group in (yaml.safe_load(path.read_text()) or {}).get("groups", []):
            names.update(rule["record"] for rule in group.get("rules", []) if "record" in rule)
    return names


def names_problems(expr: str, known_records: set[str]) -> list[str]:
    """Metric names and selector labels in ``expr`` that the catalogue does not have."""
    problems = []
    for name, matchers in SELECTOR.findall(expr):
        if name in UNCHECKED_LABELS or name in known_records or name not in METRICS:
            continue
        allowed = METRICS[name] | TARGET_LABELS | {"__name__"}
        for label in MATCHER.findall(STRING.sub('""', matchers)):
            if label not in allowed:
                problems.append(f"label {label!r} is not a label of {name} (it has: {sorted(METRICS[name])})")
    bare = SELECTOR.sub(lambda m: m.group(1), STRING.sub('""', expr))
    for name in sorted(set(CHECKED_NAME.findall(bare))):
        if name not in METRICS and name not in known_records:
            problems.append(f"metric {name!r} is neither in the metric catalogue nor a recording rule")
    return problems


def substitute_variables(expr: str, variables: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return GRAFANA_BUILTINS.get(name, variables.get(name, "x"))

    return GRAFANA_VARIABLE.sub(value, expr)


def iter_panels(panels: list[dict[str, Any]]):
    for panel in panels:
        yield panel
        yield from iter_panels(panel.get("panels", []))


def datasource_uid(ds: Any) -> str | None:
    if isinstance(ds, dict):
        return ds.get("uid")
    return ds  # an old dashboard may name it by a string


def check_dashboard(path: Path, seen_uids: dict[str, Path], known_records: set[str]):
    """Return (problems, [(where, expression)]) for one dashboard file."""
    problems: list[str] = []
    exprs: list[tuple[str, str]] = []
    try:
        board = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        return [f"{path.name}: not valid JSON: {exc}"], exprs
    if not isinstance(board, dict):
        return [f"{path.name}: the top level is not an object"], exprs
    for key in REQUIRED_KEYS:
        if key not in board:
            problems.append(f"{path.name}: missing top-level key {key!r}")
    if not isinstance(board.get("schemaVersion"), int) or board["schemaVersion"] < 36:
        problems.append(f"{path.name}: schemaVersion should be a number from 36 up (Grafana 9+)")
    uid = board.get("uid")
    if uid in seen_uids:
        problems.append(f"{path.name}: uid {uid!r} is also the uid of {seen_uids[uid].name}")
    elif uid:
        seen_uids[uid] = path

    variables: dict[str, str] = {}
    for var in board.get("templating", {}).get("list", []):
        name = var.get("name", "?")
        variables[name] = var.get("allValue") or "x"
        if var.get("type") == "query":
            if datasource_uid(var.get("datasource")) != DATASOURCE_UID:
                problems.append(f"{path.name}: variable ${name} does not use data source {DATASOURCE_UID!r}")
            query = var.get("query")
            query = query.get("query", "") if isinstance(query, dict) else query or ""
            inner = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", query)
            expr = inner.group(1) if inner else query
            if not expr.strip():
                problems.append(f"{path.name}: variable ${name} has an empty query")
            else:
                exprs.append((f"{path.name} variable ${name}", expr))

    seen_ids: set[int] = set()
    for panel in iter_panels(board.get("panels", [])):
        pid = panel.get("id")
        where = f"{path.name} panel {pid} {panel.get('title', '')!r}"
        if not isinstance(pid, int):
            problems.append(f"{where}: no numeric id")
        elif pid in seen_ids:
            problems.append(f"{where}: id {pid} is used by another panel")
        else:
            seen_ids.add(pid)
        ptype = panel.get("type")
        if ptype not in CORE_PANELS:
            problems.append(f"{where}: panel type {ptype!r} is not a core Grafana panel")
        grid = panel.get("gridPos") or {}
        if not all(isinstance(grid.get(k), int) for k in ("h", "w", "x", "y")) or grid["x"] + grid["w"] > 24:
            problems.append(f"{where}: gridPos must have integer h, w, x, y within 24 columns")
        if ptype in ("row", "text"):
            continue
        if datasource_uid(panel.get("datasource")) != DATASOURCE_UID:
            problems.append(f"{where}: panel data source is not uid {DATASOURCE_UID!r}")
        targets = panel.get("targets") or []
        if not targets:
            problems.append(f"{where}: no queries")
        for target in targets:
            twhere = f"{where} query {target.get('refId', '?')}"
            if datasource_uid(target.get("datasource", panel.get("datasource"))) != DATASOURCE_UID:
                problems.append(f"{twhere}: data source is not uid {DATASOURCE_UID!r}")
            expr = target.get("expr")
            if not isinstance(expr, str) or not expr.strip():
                problems.append(f"{twhere}: empty expression")
                continue
            exprs.append((twhere, substitute_variables(expr, variables)))
    for where, expr in exprs:
        problems.extend(f"{where}: {p}" for p in names_problems(expr, known_records))
    return problems, exprs


def check_rule_names(known_records: set[str]) -> list[str]:
    problems = []
    for path in sorted(RULES.glob("*.yml")):
        for group in (yaml.safe_load(path.read_text()) or {}).get("groups", []):
            for rule in group.get("rules", []):
                name = rule.get("record") or rule.get("alert")
                for p in names_problems(str(rule.get("expr", "")), known_records):
                    problems.append(f"{path.name} rule {name}: {p}")
    return problems


def promql_problems(exprs: list[tuple[str, str]]) -> list[str]:
    """Parse every expression with promtool, one recording rule per expression."""
    promtool = shutil.which("promtool")
    if promtool is None:
        _say("promtool not found: PromQL syntax of the dashboards not checked.")
        return []
    groups = [
        {"name": f"{i}: {where}", "rules": [{"record": "dashboard:expression:check", "expr": expr}]}
        for i, (where, expr) in enumerate(exprs)
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".yml", prefix="dashboard-exprs-") as tmp:
        yaml.safe_dump({"groups": groups}, tmp, sort_keys=False, width=10_000)
        tmp.flush()
        # promtool is the one found on the PATH and the file is ours: nothing untrusted runs.
        result = subprocess.run(  # noqa: S603
            [promtool, "check", "rules", tmp.name], capture_output=True, text=True, check=False
        )
    if result.returncode == 0:
        return []
    output = (result.stdout + result.stderr).replace(tmp.name, "<dashboard expressions>")
    return [f"promtool could not parse a dashboard expression:\n{output.strip()}"]


def _say(message: str) -> None:
    sys.stdout.write(message + "\n")


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted(DASHBOARDS.glob("*.json"))
    if not paths:
        _say(f"no dashboards in {DASHBOARDS}")
        return 1
    known_records = recording_rule_names()
    problems: list[str] = []
    all_exprs: list[tuple[str, str]] = []
    seen_uids: dict[str, Path] = {}
    for path in paths:
        found, exprs = check_dashboard(path, seen_uids, known_records)
        problems.extend(found)
        all_exprs.extend(exprs)
    problems.extend(check_rule_names(known_records))
    if all_exprs:
        problems.extend(promql_problems(all_exprs))
    for problem in problems:
        _say(f"FAIL {problem}")
    if problems:
        return 1
    _say(f"OK {len(paths)} dashboards, {len(all_exprs)} expressions")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
