"""The worker roles: one command line for the run command, Compose and the tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml
from django.conf import settings

from linkhub.celery import WORKER_ROLES, worker_argv

ROOT = Path(__file__).resolve().parents[2]


def test_every_queue_a_task_is_routed_to_has_a_worker_role():
    """A queue no worker takes would hold its tasks for ever (scorings on ml, sweeps on default)."""
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    routed.add(settings.CELERY_TASK_DEFAULT_QUEUE)
    taken = {queue for role in WORKER_ROLES.values() for queue in role.queues}
    assert routed <= taken


def test_compose_starts_its_workers_through_linkhub_worker():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert services["worker"]["command"][:4] == ["python", "-m", "linkhub.worker", "snapshots"]
    assert services["ml-worker"]["command"] == ["python", "-m", "linkhub.worker", "ml"]


def test_worker_argv_names_the_roles_queues_and_limits():
    argv = worker_argv("ml", name="n1@%h", without_peers=True)
    assert argv[:6] == [sys.executable, "-m", "celery", "-A", "linkhub", "worker"]
    joined = " ".join(argv[6:])
    assert joined == (
        "-Q ml --concurrency 1 --max-tasks-per-child 500 --loglevel INFO -n n1@%h"
        " --without-mingle --without-gossip"
    )
    assert "--concurrency 5" in " ".join(worker_argv("snapshots", concurrency=5))


def test_linkhub_worker_refuses_a_role_it_does_not_know():
    result = subprocess.run(
        [sys.executable, "-m", "linkhub.worker", "gpu"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 2
    assert "invalid choice: 'gpu'" in result.stderr
