"""Health probes, metrics and the OpenAPI schema."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.smoke
def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


@pytest.mark.smoke
def test_readyz_checks_database_and_broker(client, redis_server):
    r = client.get("/readyz")
    assert r.status_code == 200, r.content
    assert r.json()["checks"] == {"database": "ok", "broker": "ok"}


def test_readyz_reports_a_broken_broker(client, settings):
    settings.REDIS_CLIENT_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"]["broker"].startswith("error")
    assert r.json()["checks"]["database"] == "ok"


def test_metrics_endpoint(client):
    r = client.get("/metrics")
    assert r.status_code == 200 and b"django_http_requests" in r.content


@pytest.mark.smoke
def test_openapi_schema_lists_the_contract(client):
    r = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert r.status_code == 200
    import json

    paths = json.loads(r.content)["paths"]
    for path in (
        "/api/auth/token/",
        "/api/links/",
        "/api/links/{id}/",
        "/api/tags/",
        "/api/imports/",
        "/api/imports/{id}/",
        "/api/export/",
    ):
        assert path in paths, path


def test_api_docs_page_uses_vendored_assets(client):
    r = client.get("/api/docs/")
    assert r.status_code == 200
    assert b"cdn" not in r.content.lower()
