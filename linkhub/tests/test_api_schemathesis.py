"""Schemathesis against the live API: every operation in /api/schema/, with a user who has data.

Checks: no server error, only status codes the schema lists, responses that match their declared
schema and content type. Deterministic (fixed seed, bounded examples), so CI sees the same cases.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from linkhub.tests.api_world import build_world

CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance"
MAX_EXAMPLES = 15

# Which real ids a path parameter draws from, per route (half the time; otherwise whatever
# schemathesis generates, which mostly finds nothing: a 404 is a valid answer too).
PARAMETER_SOURCES = [
    (r"^/api/auth/tokens/\{id\}", "id", "carols_token"),
    (r"^/api/links/\{id\}", "id", "link"),
    (r"^/api/tags/\{id\}", "id", "tag"),
    (r"^/api/imports/\{id\}", "id", "import"),
    (r"^/api/snapshots/\{id\}", "id", "snapshot"),
    (r"^/api/mlops/training/\{id\}", "id", "training"),
    (r"^/api/mlops/drift/\{id\}", "id", "drift"),
    (r"^/api/mlops/alerts/\{id\}", "id", "alert"),
    (r"^/api/mlops/alert-rules/\{id\}", "id", "rule"),
    (r"^/api/mlops/models/\{number\}", "number", "version"),
    (r"/artifacts/", "name", "artifact"),
]
ARTIFACT_NAMES = ["page.html", "screenshot.png", "text.txt", "page.pdf"]


def _toml_list(values) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def _config(world) -> str:
    lines = [
        "seed = 20261207",
        "[generation]",
        f"max-examples = {MAX_EXAMPLES}",
        "deterministic = true",
        'database = "none"',
        # Methods an operation does not declare are DRF's 405 (not a check here): skip them.
        "[phases.coverage]",
        "unexpected-methods = []",
        "[headers]",
        f'Authorization = "Token {world.token}"',
    ]
    for name, values in world.ids.items():
        if values:
            lines += [f"[dictionaries.{name}]", f"values = {_toml_list(values)}"]
    lines += ["[dictionaries.artifact]", f"values = {_toml_list(ARTIFACT_NAMES)}"]
    for regex, param, source in PARAMETER_SOURCES:
        lines += [
            "[[operations]]",
            f"include-path-regex = {json.dumps(regex)}",
            f'parameters = {{ "path.{param}" = {{ dictionary = "{source}", probability = 0.5 }} }}',
        ]
        if source == "carols_token":
            lines.append(f'headers = {{ Authorization = "Token {world.carol_token}" }}')
    return "\n".join(lines) + "\n"


@pytest.fixture
def no_broker(monkeypatch):
    """Nothing this sweep queues may leave the test: each of our tasks' publish is a recorder."""
    from linkhub.celery import app

    app.loader.import_default_modules()
    published: list[tuple[str, tuple]] = []
    for name, task in list(app.tasks.items()):
        if name.split(".")[0] in ("linkhub", "snapshots", "mlops"):
            monkeypatch.setattr(
                task,
                "apply_async",
                lambda args=None, kwargs=None, _n=name, **kw: published.append((_n, args)),
            )
    return published


@pytest.mark.slow
def test_every_api_operation_conforms_to_its_schema(live_server, no_broker, tmp_path):
    world = build_world()
    config = tmp_path / "schemathesis.toml"
    config.write_text(_config(world))
    report = tmp_path / "report.json"
    cmd = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "run",
        f"{live_server.url}/api/schema/",
        "--checks",
        CHECKS,
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--no-color",
        "--continue-on-failure",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "--output-truncate",
        "true",
    ]
    # Its own folder: schemathesis and hypothesis keep caches in the working directory.
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, check=False, cwd=tmp_path)  # noqa: S603
    (tmp_path / "schemathesis.log").write_text(proc.stdout + proc.stderr)
    assert report.exists(), proc.stdout[-5000:] + proc.stderr[-5000:]
    result = json.loads(report.read_text())
    summary = _summary(result)
    assert proc.returncode == 0, summary + "\n\n" + proc.stdout[-20000:] + proc.stderr[-3000:]
    operations = result["operations"]
    assert operations["tested"] == operations["total"] > 40 and operations["errored"] == 0, summary
    assert result["complete"] and result["test_cases"]["generated"] > 1000, summary


def _summary(result: dict) -> str:
    """One line per kind of failure: its code, how often, and on which operations."""
    lines = [f"{result['test_cases']}"]
    for failure in result["failures"]:
        ops = ", ".join(failure["operations"][:8])
        lines.append(f"{failure['code']} {failure['title']}: {failure['count']} ({ops})")
    return "\n".join(lines)
