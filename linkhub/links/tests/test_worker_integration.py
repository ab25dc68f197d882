"""A real Celery worker on the real broker runs an import queued through the API."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.files.uploadedfile import SimpleUploadedFile

from linkhub.celery import app
from linkhub.links.models import ImportJob, Link

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.integration
@pytest.mark.smoke
@pytest.mark.django_db(transaction=True)
def test_import_is_run_by_a_real_worker(redis_server, alice_api, alice):
    with start_worker(app, pool="solo", perform_ping_check=False, queues=["default"], shutdown_timeout=10):
        r = alice_api.post(
            "/api/imports/",
            {"file": SimpleUploadedFile("b.html", (FIXTURES / "firefox.html").read_bytes())},
            format="multipart",
        )
        assert r.status_code == 202
        job_id = r.json()["id"]
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline:
            status = alice_api.get(f"/api/imports/{job_id}/").json()["status"]
            if status in ("succeeded", "failed"):
                break
            time.sleep(0.2)
    assert status == "succeeded"
    job = ImportJob.objects.get(pk=job_id)
    assert (job.done, job.created, job.failed) == (7, 5, 2)
    assert Link.objects.filter(owner=alice).count() == 5
