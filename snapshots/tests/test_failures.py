"""Failures with real components: the broker restarting in the middle of a burst of saves, and a
worker killed with SIGKILL in the middle of renders. Nothing saved is lost, nothing stays stuck.

Both tests print their figures (run with ``-s`` to see them)."""

from __future__ import annotations

import itertools
import logging
import os
import signal
import statistics
import threading
import time

import httpx
import psutil
import pytest

from linkhub.accounts.services import api_token_create
from linkhub.links.models import Link
from snapshots import services
from snapshots.models import Snapshot
from snapshots.tests.worker_fixture import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.snapshots,
    pytest.mark.django_db(transaction=True),
]

# Short, so that the sweep finds lost work quickly; longer than the renderer's heartbeat (every
# 5 s), or a render that is still going would look like one whose worker died.
LEASE_SECONDS = 10
UNFINISHED = (Snapshot.Status.PENDING, Snapshot.Status.RUNNING)


def _settle(sweep, *, timeout: float, every: float = 1.5) -> list[dict[str, int]]:
    """Run the sweep, as beat would (only more often), until no snapshot is PENDING or RUNNING."""
    results: list[dict[str, int]] = []
    deadline = time.monotonic() + timeout
    while Snapshot.objects.filter(status__in=UNFINISHED).exists() and time.monotonic() < deadline:
        results.append(sweep())
        time.sleep(every)
    return results


def _pgid(proc: psutil.Process) -> int | None:
    try:
        return os.getpgid(proc.pid)
    except ProcessLookupError:
        return None


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _latest_status(link_ids) -> dict[int, str]:
    """Each link's newest snapshot status ("none" for a link without any)."""
    found: dict[int, str] = dict.fromkeys(link_ids, "none")
    for link_id, status in (
        Snapshot.objects.filter(link_id__in=link_ids).order_by("version").values_list("link_id", "status")
    ):
        found[link_id] = status
    return found


def test_a_broker_restart_in_a_burst_of_saves_loses_no_save(
    fixture_site, alice, own_redis, start_web, start_worker, start_sweeper, caplog
):
    """Redis stops (and loses every queued message) and comes back while a burst of saves goes on:
    every save answers 201 (or 503 without writing), and the sweep gets every snapshot done."""
    total = int(os.environ.get("LINKHUB_BURST_SAVES", "100"))
    clients = 4
    caplog.set_level(logging.WARNING, logger="httpx")  # not a line per request
    env = {"SNAPSHOT_LEASE_SECONDS": str(LEASE_SECONDS)}
    sweeper = start_sweeper(redis_url=own_redis.url, extra_env=env)
    start_worker(env, redis_url=own_redis.url, concurrency=2)
    web = start_web(redis_url=own_redis.url, extra_env=env)
    _, key = api_token_create(user=alice, name="burst")
    urls = [fixture_site(f"/page/burst-{i}") for i in range(total)]

    # Requests are handed out in order; those past `gate` wait until Redis is back, so that the
    # outage is in the middle of the burst however fast the server answers.
    handed = itertools.count()
    lock = threading.Lock()
    gate = int(total * 0.7)
    broker_back = threading.Event()
    phase = {"now": "up"}
    outcomes: dict[int, tuple[str, int | str, int | None]] = {}  # i -> (phase, status or error, id)
    latency: dict[str, list[float]] = {"up": [], "down": [], "after": []}

    def client() -> None:
        with httpx.Client(headers={"Authorization": f"Token {key}"}, timeout=60) as http:
            while True:
                with lock:
                    i = next(handed)
                if i >= total:
                    return
                if i >= gate:
                    broker_back.wait(120)
                sent_in = phase["now"]
                sent_at = time.monotonic()
                try:
                    r = http.post(web.url + "/api/links/", json={"url": urls[i]})
                    status: int | str = r.status_code
                    link_id = r.json().get("id") if r.status_code == 201 else None
                except httpx.HTTPError as exc:
                    status, link_id = type(exc).__name__, None
                with lock:
                    outcomes[i] = (sent_in, status, link_id)
                    latency[sent_in].append(time.monotonic() - sent_at)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    wait_for(lambda: len(outcomes) >= total * 0.3, 120, "the first part of the burst")
    own_redis.stop()  # every queued and unacknowledged message is gone with it
    phase["now"] = "down"
    down_at = time.monotonic()
    while time.monotonic() - down_at < 2.5:  # keep saving with no broker for a while
        time.sleep(0.1)
    own_redis.start()
    phase["now"] = "after"
    outage = time.monotonic() - down_at
    broker_back.set()
    for thread in threads:
        thread.join(timeout=180)
    burst_seconds = time.monotonic() - started
    assert len(outcomes) == total, f"{total - len(outcomes)} requests never finished"

    sweeps = _settle(sweeper.sweep, timeout=240)
    settle_seconds = time.monotonic() - started - burst_seconds

    statuses = [status for _, status, _ in outcomes.values()]
    created = {i: link_id for i, (_, status, link_id) in outcomes.items() if status == 201}
    refused = [i for i, (_, status, _) in outcomes.items() if status == 503]
    during_outage = sum(1 for sent_in, _, _ in outcomes.values() if sent_in == "down")
    existing = set(Link.objects.filter(pk__in=created.values()).values_list("pk", flat=True))
    lost = [i for i, link_id in created.items() if link_id not in existing]
    latest = _latest_status(existing)
    stuck = [link_id for link_id, status in latest.items() if status != Snapshot.Status.SUCCEEDED]
    left_behind = Link.objects.filter(url__in=[urls[i] for i in refused]).count()
    requeued = sum(s["requeued"] for s in sweeps)
    print(
        f"\nbroker restart: requests={total} 201={len(created)} 503={len(refused)} lost={len(lost)} "
        f"stuck={len(stuck)} (sent during the {outage:.1f} s outage={during_outage}, requeued by the "
        f"sweep={requeued} in {len(sweeps)} sweeps, worker_lost={sum(s['worker_lost'] for s in sweeps)}; "
        f"burst {burst_seconds:.1f} s, settled {settle_seconds:.1f} s later)"
    )
    print(
        "save latency, median/max seconds: "
        + ", ".join(
            f"{name} {statistics.median(values):.2f}/{max(values):.2f}"
            for name, values in latency.items()
            if values
        )
    )

    odd = sorted({str(s) for s in statuses} - {"201", "503"})
    assert not odd, f"answers other than 201 or 503: {odd}\n{web.log()[-4000:]}"
    assert during_outage > 0, "no save was sent while the broker was down"
    assert not lost, f"answered 201 but not stored: {lost}"
    assert not stuck, f"snapshots not succeeded: {[(i, latest[i]) for i in stuck][:20]}"
    assert left_behind == 0, "a 503 left a link behind"
    assert Link.objects.count() == len(created)  # every stored link was answered 201
    assert not Snapshot.objects.filter(status__in=UNFINISHED).exists()


def test_a_worker_killed_mid_render_loses_no_link(fixture_site, alice_api, start_worker, settings):
    """SIGKILL to the worker's whole process group while it renders slow pages: a fresh worker
    and the sweep get every link a succeeded snapshot, the lost attempt recorded."""
    settings.SNAPSHOT_LEASE_SECONDS = LEASE_SECONDS  # the sweep runs here, in the test process
    settings.SNAPSHOT_RETRY_BASE_SECONDS = 0.5
    env = {"SNAPSHOT_LEASE_SECONDS": str(LEASE_SECONDS)}
    started = time.monotonic()
    worker = start_worker(env, concurrency=2)
    link_ids = []
    for i in range(6):
        r = alice_api.post("/api/links/", {"url": fixture_site(f"/slow/kill-{i}?delay=5")}, format="json")
        assert r.status_code == 201
        link_ids.append(r.json()["id"])

    def two_mid_render():
        running = list(Snapshot.objects.filter(status=Snapshot.Status.RUNNING).values_list("url", flat=True))
        reached = [url for url in running if url.split(fixture_site.url, 1)[-1] in fixture_site.hits]
        return running if len(reached) >= 2 else None

    wait_for(two_mid_render, 90, "two renders waiting for their slow page")
    family = [psutil.Process(worker.pid), *psutil.Process(worker.pid).children(recursive=True)]
    own_group = [p for p in family if _pgid(p) != worker.pid]  # a browser may start a group of its own
    os.killpg(worker.pid, signal.SIGKILL)  # main and pool processes, the Playwright driver, ...
    worker.wait(timeout=10)
    killed = list(Snapshot.objects.filter(status=Snapshot.Status.RUNNING).values_list("pk", flat=True))
    # ... and whatever left the group ends with its driver; what does not is counted, then killed.
    deadline = time.monotonic() + 15
    while any(_alive(p) for p in family) and time.monotonic() < deadline:
        time.sleep(0.3)
    outlived = [p for p in family if _alive(p)]
    for proc in outlived:
        proc.kill()

    start_worker(env, concurrency=2)
    sweeps = _settle(services.snapshots_sweep, timeout=180)
    latest = _latest_status(link_ids)
    stuck = [link_id for link_id, status in latest.items() if status != Snapshot.Status.SUCCEEDED]
    recovered = Snapshot.objects.filter(
        pk__in=killed, status=Snapshot.Status.SUCCEEDED, provenance__attempts_log__0__reason="worker_lost"
    ).count()
    lost = len(link_ids) - Link.objects.filter(pk__in=link_ids).count()
    print(
        f"\nworker killed: links={len(link_ids)} killed while running={len(killed)} recovered={recovered} "
        f"stuck={len(stuck)} lost={lost} ({len(sweeps)} sweeps; worker processes={len(family)}, "
        f"outside its group={len(own_group)}, alive 15 s after the kill={len(outlived)}; "
        f"{time.monotonic() - started:.1f} s)"
    )

    assert len(killed) >= 2
    assert sum(s["worker_lost"] for s in sweeps) == len(killed)
    assert lost == 0
    assert not stuck, f"snapshots not succeeded: {[(i, latest[i]) for i in stuck]}"
    assert recovered == len(killed)
    assert not Snapshot.objects.filter(status=Snapshot.Status.RUNNING).exists()
    for snap in Snapshot.objects.filter(pk__in=killed):
        assert snap.attempts == 2
        assert [a["reason"] for a in snap.provenance["attempts_log"]] == ["worker_lost"]
