"""Benchmark of the snapshot pipeline: pages per minute, latency and memory of a real Celery worker.

    .venv/bin/python bench/snapshots.py                      # SQLite + embedded Redis in a temp dir
    .venv/bin/python bench/snapshots.py --database-url postgres://postgres@127.0.0.1:5432/linkhub_bench_snap

What it does (only step 3 is timed):

1. Corpus. Picks ``--pages`` HTML pages of the Python documentation from Debian's ``python3-doc``
   (``/usr/share/doc/python3.11/html``): every page under library/, tutorial/, howto/ and
   reference/, sorted by size, taken at evenly spaced ranks (so the sizes follow the docs' own
   distribution, smallest and largest included), with ``library/stdtypes.html`` always in. The
   whole html directory is served by a threaded static HTTP server on 127.0.0.1:<free port>.
2. Two runs, each in a child process with a fresh ``LINKHUB_VAR_DIR``, a fresh database (a new
   SQLite file, or a PostgreSQL database this script creates and drops), the embedded Redis (or
   ``--redis-url``) and its own Celery worker (``-c --concurrency``, ``SNAPSHOT_ALLOWED_NETWORKS=
   127.0.0.0/8``):
     ours       the pipeline as configured: one Chromium per worker process, reused
                (``SNAPSHOT_BROWSER_RECYCLE``, default 50 snapshots per browser)
     baseline   the same pipeline with ``SNAPSHOT_BROWSER_RECYCLE=1``: a new browser for every page
   Each run creates a user and one link per page, waits until the worker answers a ping, then
3. calls ``snapshot_request`` for every link (each queues its task on commit) and polls the
   database until every snapshot is finished (at most ``--timeout`` seconds). The clock starts
   just before the first request and stops at the last ``finished_at``. Meanwhile a thread sums
   the RSS of the worker's process tree (Celery, its pool processes, the Playwright drivers and
   every Chromium process) every 0.2 s, and its PSS every second.
4. Report: pages/min, failures by reason, suspects, p50/p95 of latency (finished - requested),
   of render time (provenance timings navigation + settle + capture + store) and of queue wait,
   peak and mean memory, CPU seconds per page of the worker tree, bytes stored per page, and a
   check that every succeeded snapshot has screenshot.png, thumbnail.png, page.pdf, page.html and
   text.txt. Then the time per stage, ours / baseline ratios, and the comparison with
   single-file-cli (35 pages/min, HTML only, 19% failures) and the aim (85 pages/min, every
   artifact, no failures). JSON goes to ``bench/results/snapshots-<db>-<timestamp>.json``.
5. Profile (``--profile-pages N``, after ours, worker stopped): N corpus pages rendered again
   in-process, one at a time, with the renderer's steps timed (load event, quiet waits, scroll,
   DOM, screenshot, PDF, archive, text, thumbnail, quality check): wall time, and CPU time of
   Chromium + driver and of Python per step: where a render's time and CPU go.
6. Clean-up: stops the workers (SIGTERM to their process group, then SIGKILL) and Redis, drops
   the databases and deletes the temp dir (unless ``--keep``).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
CORPUS_DIR = Path("/usr/share/doc/python3.11/html")
SECTIONS = ("library", "tutorial", "howto", "reference")
ALWAYS_INCLUDED = ("library/stdtypes.html",)  # one of the longest pages of the docs
REQUIRED_ARTIFACTS = ("screenshot.png", "thumbnail.png", "page.pdf", "page.html", "text.txt")
SINGLEFILE_PPM = 35.0  # single-file-cli on this machine: HTML only
SINGLEFILE_FAILURE_RATE = 0.19
TARGET_PPM = 85.0  # the aim: every artifact, no failures
RUNS = (("ours", None), ("baseline", 1))  # (name, SNAPSHOT_BROWSER_RECYCLE forced or None)
SAMPLE_EVERY = 0.2  # seconds between RSS samples
PSS_EVERY = 5  # a PSS sample every this many RSS samples
POLL_EVERY = 0.5
USERNAME = "bench"
SEED = 20240601  # the order the links are queued in: shuffled, the same every run
PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--pages", type=int, default=100, help="pages of the corpus (default 100)")
    p.add_argument("-c", "--concurrency", type=int, default=2, help="Celery worker processes")
    p.add_argument(
        "--database-url",
        default="",
        help="a PostgreSQL URL whose database does not exist yet: it is created (and NAME_baseline for "
        "the baseline) and dropped at the end. Default: a fresh SQLite file per run in the temp dir.",
    )
    p.add_argument(
        "--redis-url",
        default="",
        help="a Redis nobody else uses (e.g. redis://127.0.0.1:6379/15); default: the embedded Redis",
    )
    p.add_argument("--skip-baseline", action="store_true", help="only run our pipeline")
    p.add_argument("--keep", action="store_true", help="keep the temp dir and the databases")
    p.add_argument("--timeout", type=float, default=900, help="seconds each run may take to finish")
    p.add_argument(
        "--profile-pages", type=int, default=8, metavar="N", help="pages to profile in-process (0: none)"
    )
    p.add_argument("--label", default="", help="free text stored in the JSON (e.g. a branch name)")
    p.add_argument("--run-child", help=argparse.SUPPRESS)  # internal: one run, config as JSON
    args = p.parse_args(argv)
    if args.run_child:
        return args
    if args.pages < 1 or args.concurrency < 1 or args.timeout <= 0 or args.profile_pages < 0:
        p.error("--pages and --concurrency must be at least 1, --timeout positive")
    if args.database_url and not urlsplit(args.database_url).scheme.startswith("postgres"):
        p.error("--database-url takes a PostgreSQL URL; SQLite is the default (a new file per run)")
    return args


# --- corpus -----------------------------------------------------------------------------------


def corpus_pick(n: int) -> list[tuple[str, int]]:
    """``n`` pages (relative path, bytes) at evenly spaced ranks of size, ALWAYS_INCLUDED in."""
    if not CORPUS_DIR.is_dir():
        raise SystemExit(
            f"{CORPUS_DIR} is missing: the corpus is Debian's Python documentation.\n"
            "Install it with:  apt-get install -y python3-doc"
        )
    pages = sorted(
        (str(path.relative_to(CORPUS_DIR)), path.stat().st_size)
        for section in SECTIONS
        for path in (CORPUS_DIR / section).glob("*.html")
    )
    by_size = sorted(pages, key=lambda p: (p[1], p[0]))
    if n > len(by_size):
        raise SystemExit(f"--pages {n}: the corpus has only {len(by_size)} pages")
    ranks = sorted({round(i * (len(by_size) - 1) / max(1, n - 1)) for i in range(n)})
    rank_of = {path: i for i, (path, _) in enumerate(by_size)}
    for must in ALWAYS_INCLUDED:
        r = rank_of.get(must)
        if r is None or r in ranks or n < 3:
            continue
        # Replace the nearest pick that is neither the smallest nor the largest page.
        inner = [x for x in ranks if 0 < x < len(by_size) - 1 and by_size[x][0] not in ALWAYS_INCLUDED]
        ranks.remove(min(inner, key=lambda x: abs(x - r)))
        ranks.append(r)
    return [by_size[r] for r in sorted(ranks)]


def size_summary(sizes: list[int]) -> dict:
    s = sorted(sizes)
    return {
        "pages": len(s),
        "total_bytes": sum(s),
        "mean_kb": round(statistics.fmean(s) / 1024, 1),
        **{f"p{q}_kb": round(pct(s, q / 100) / 1024, 1) for q in (0, 25, 50, 75, 90, 100)},
        "over_200kb": sum(1 for x in s if x > 200 * 1024),
    }


class QuietHandler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive where the client wants it

    def log_message(self, format, *args) -> None:
        pass


def http_server_start() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(CORPUS_DIR)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="corpus-http", daemon=True).start()
    return server


# --- numbers ----------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    """Percentile with linear interpolation (numpy's default); 0.0 for no values."""
    s = sorted(values)
    if not s:
        return 0.0
    k = (len(s) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def dist(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "mean": round(statistics.fmean(values), 3),
        "p50": round(pct(values, 0.5), 3),
        "p95": round(pct(values, 0.95), 3),
        "max": round(max(values), 3),
        "sum": round(sum(values), 3),
    }


# --- databases (parent side: created before a run, dropped after) ------------------------------


def _pg_admin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name or "/" in name:
        raise SystemExit(f"The PostgreSQL URL needs a database name: {url}")
    if name in ("postgres", "template0", "template1"):
        raise SystemExit(f"Refusing to use the {name} database; name a dedicated one (linkhub_bench_snap).")
    scheme = "postgresql"
    return name, urlunsplit((scheme, parts.netloc, "/postgres", parts.query, ""))


def pg_url_for(url: str, run: str) -> str:
    """The database of one run: the one named for ours, NAME_baseline for the baseline."""
    if run == "ours":
        return url
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"{parts.path}_{run}"))


def pg_create(url: str) -> None:
    import psycopg
    from psycopg import sql

    name, admin = _pg_admin(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            raise SystemExit(
                f"Database {name!r} already exists. The benchmark only uses databases it creates itself; "
                "drop it (if it is a leftover bench database) or name another one."
            )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    log(f"created PostgreSQL database {name}")


def pg_drop(url: str) -> None:
    import psycopg
    from psycopg import sql

    name, admin = _pg_admin(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    log(f"dropped PostgreSQL database {name}")


def pg_exists(url: str) -> bool:
    import psycopg

    name, admin = _pg_admin(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        return bool(conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone())


# --- the worker's process tree --------------------------------------------------------------------


def _kind(name: str) -> str:
    name = name.lower()
    if "chrom" in name or "headless" in name:
        return "chromium"
    if name.startswith("node") or "playwright" in name:
        return "driver"
    if name.startswith(("python", "celery")):
        return "celery"
    return "other"


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux). Chromium's processes
    outlive their parents when a browser closes, and its crash handlers daemonise: without this
    they are re-parented to init, leave the worker's tree, and their memory and CPU go uncounted."""
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def tree(exclude: set[int]) -> list:
    """The worker's processes: every descendant of this process but ``exclude`` (Redis)."""
    import psutil

    return [p for p in psutil.Process().children(recursive=True) if p.pid not in exclude]


def reap(protected: set[int]) -> None:
    """Collect the exit status of orphans re-parented to us (their CPU moves to RUSAGE_CHILDREN)."""
    import psutil

    for proc in psutil.Process().children():
        if proc.pid in protected:
            continue  # the worker and Redis: their Popen objects wait for them
        with contextlib.suppress(psutil.Error, ChildProcessError):
            if proc.status() == psutil.STATUS_ZOMBIE:
                os.waitpid(proc.pid, os.WNOHANG)


def tree_cpu_seconds(exclude: set[int], protected: set[int]) -> float:
    """User+system CPU so far of the worker's processes: the living ones (with the children they
    reaped) plus the orphans this process reaped. Exact while this process is the subreaper."""
    import psutil

    reap(protected)
    total = 0.0
    for proc in tree(exclude):
        with contextlib.suppress(psutil.Error):
            t = proc.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return total + ru.ru_utime + ru.ru_stime


class TreeSampler(threading.Thread):
    """Sums the RSS of a process tree every SAMPLE_EVERY seconds (and its PSS now and then)."""

    def __init__(self, exclude: set[int], record: Path | None = None) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.exclude = exclude
        self.record = record  # "pid create_time" of every browser and driver process seen
        self.samples: list[tuple[float, int, dict[str, int], int]] = []  # (t, rss, by kind, procs)
        self.pss: list[tuple[float, int]] = []
        self.browsers: set[tuple[int, float]] = set()  # Chromium main processes seen (pid, start)
        self.seen: set[int] = set()
        self.cpu: dict[tuple[int, float], float] = {}  # last user+system CPU seen of every process
        self.kind: dict[tuple[int, float], str] = {}
        self._browser_pid: dict[tuple[int, float], bool] = {}
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)

    def _is_browser(self, proc, key) -> bool:
        if key not in self._browser_pid:
            cmd = proc.cmdline()
            self._browser_pid[key] = any(a.startswith("--proxy-server") for a in cmd) and not any(
                a.startswith("--type=") for a in cmd
            )
        return self._browser_pid[key]

    def run(self) -> None:
        import psutil

        n = 0
        while True:
            t = time.monotonic()
            total, kinds, count, pss = 0, {"celery": 0, "driver": 0, "chromium": 0, "other": 0}, 0, 0
            want_pss = n % PSS_EVERY == 0
            for proc in tree(self.exclude):
                try:
                    with proc.oneshot():
                        rss = proc.memory_info().rss
                        kind = _kind(proc.name())
                        key = (proc.pid, proc.create_time())
                        times = proc.cpu_times()
                        self.cpu[key] = times.user + times.system
                        self.kind[key] = kind
                        if kind == "chromium" and self._is_browser(proc, key):
                            self.browsers.add(key)
                        if proc.pid not in self.seen and kind in ("chromium", "driver") and self.record:
                            with self.record.open("a") as fh:
                                fh.write(f"{key[0]} {key[1]}\n")
                    if want_pss:
                        pss += proc.memory_full_info().pss
                except psutil.Error:
                    continue
                total += rss
                kinds[kind] += rss
                count += 1
                self.seen.add(proc.pid)
            self.samples.append((t, total, kinds, count))
            if want_pss:
                self.pss.append((t, pss))
            n += 1
            if self._halt.wait(max(0.0, SAMPLE_EVERY - (time.monotonic() - t))):
                return

    def cpu_mark(self) -> dict[tuple[int, float], float]:
        return dict(self.cpu)

    def cpu_since(self, mark: dict[tuple[int, float], float]) -> dict[str, float]:
        """CPU seconds by process kind since ``mark``: a lower bound (the last <= 0.2 s of a
        process that exited, and a process that lived less than that, are not seen)."""
        out: dict[str, float] = {}
        for k, v in self.cpu.items():
            out[self.kind[k]] = out.get(self.kind[k], 0.0) + v - mark.get(k, 0.0)
        return out

    def window(self, start: float, end: float) -> dict:
        rows = [s for s in self.samples if start <= s[0] <= end] or self.samples[-1:]
        pss = [v for t, v in self.pss if start <= t <= end]
        if not rows:
            return {}
        peak = max(rows, key=lambda s: s[1])
        mb = 1024 * 1024
        return {
            "samples": len(rows),
            "peak_rss_mb": round(peak[1] / mb, 1),
            "mean_rss_mb": round(statistics.fmean(s[1] for s in rows) / mb, 1),
            "peak_rss_by_kind_mb": {k: round(v / mb, 1) for k, v in peak[2].items()},
            "peak_processes": max(s[3] for s in rows),
            "peak_pss_mb": round(max(pss) / mb, 1) if pss else None,
            "mean_pss_mb": round(statistics.fmean(pss) / mb, 1) if pss else None,
        }


# --- one run (child process: Django set up for this run's database and var dir) --------------------


def child_env(cfg: dict) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("REDIS_URL", "CELERY_TASK_ALWAYS_EAGER", "MEDIA_ROOT", "DJANGO_ALLOW_ASYNC_UNSAFE"):
        env.pop(name, None)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "linkhub.settings",
            "LINKHUB_VAR_DIR": str(Path(cfg["run_dir"]) / "var"),
            "DATABASE_URL": cfg["database_url"],
            "SECRET_KEY": "bench-" + os.urandom(16).hex(),
            "DEBUG": "false",
            "LOG_LEVEL": "WARNING",
            "LINKHUB_PLAIN_STATIC": "true",
            "SNAPSHOT_ALLOWED_NETWORKS": "127.0.0.0/8",
            "SNAPSHOT_ON_SAVE": "false",
        }
    )
    if cfg["redis_url"]:
        env["REDIS_URL"] = cfg["redis_url"]
    if cfg["recycle"] is not None:
        env["SNAPSHOT_BROWSER_RECYCLE"] = str(cfg["recycle"])
    return env


def worker_start(cfg: dict, env: dict[str, str], nodename: str) -> subprocess.Popen:
    from linkhub.celery import worker_argv

    cmd = worker_argv(
        "snapshots", concurrency=cfg["concurrency"], name=nodename, loglevel="WARNING", without_peers=True
    )
    logfile = Path(cfg["run_dir"]) / "worker.log"
    log(f"[{cfg['run']}] starting: " + " ".join(cmd[1:]))
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=ROOT,
        stdout=logfile.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped as a whole
    )
    (Path(cfg["run_dir"]) / "worker.pid").write_text(str(proc.pid))
    return proc


def worker_wait_ready(proc: subprocess.Popen, nodename: str, logfile: Path, timeout: float = 90) -> None:
    from linkhub.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the worker exited with {proc.returncode}:\n{logfile.read_text()[-3000:]}")
        if app.control.ping(destination=[nodename], timeout=1.0):
            return
        time.sleep(0.3)
    raise RuntimeError(f"the worker did not answer a ping in {timeout:.0f}s:\n{logfile.read_text()[-3000:]}")


def worker_stop(proc: subprocess.Popen | None, exclude: set[int]) -> None:
    """SIGTERM the worker's process group, SIGKILL it after 20 s; then kill whatever of its tree
    is left (Playwright starts Chromium in a session of its own, out of reach of the group)."""
    import psutil

    if proc is not None and proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    if proc is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # pool processes left in the group
    for _ in range(3):
        left = [p for p in tree(exclude) if p.status() != psutil.STATUS_ZOMBIE]
        if not left:
            break
        for p in left:
            with contextlib.suppress(psutil.Error):
                p.kill()
        psutil.wait_procs(left, timeout=5)
    reap(exclude)


def redis_check_empty(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    busy = {q: client.llen(q) for q in ("snapshots", "default")}
    if any(busy.values()) or client.exists("unacked"):
        raise SystemExit(
            f"The Redis at {url} has queued or unacked tasks ({busy}): someone else uses it. Point "
            "--redis-url at a database number nobody uses (e.g. redis://127.0.0.1:6379/15)."
        )


def run_child(cfg: dict) -> dict:
    env = child_env(cfg)
    os.environ.clear()
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from linkhub.accounts.services import user_signup
    from linkhub.links.services import link_create
    from snapshots.models import Snapshot
    from snapshots.services import snapshot_request

    run = cfg["run"]
    run_dir = Path(cfg["run_dir"])
    t = time.monotonic()
    call_command("migrate", interactive=False, verbosity=0)
    log(f"[{run}] migrated {connection.vendor} in {time.monotonic() - t:.1f}s")
    with connection.cursor() as cur:
        cur.execute("SELECT version()" if connection.vendor == "postgresql" else "SELECT sqlite_version()")
        db_version = cur.fetchone()[0].split(" on ")[0]
    if connection.vendor == "sqlite":
        db_version = f"SQLite {db_version}"

    redis_proc = None
    exclude: set[int] = set()
    worker = None
    sampler = None
    result: dict = {"run": run}
    try:
        subreaper = become_subreaper()
        if settings.EMBEDDED_REDIS:
            from linkhub.embedded import start_embedded_redis

            redis_proc = start_embedded_redis(settings.EMBEDDED_REDIS_SOCKET)
            if redis_proc is not None:
                (run_dir / "redis.pid").write_text(str(redis_proc.pid))
        else:
            redis_check_empty(settings.REDIS_URL)

        user = user_signup(username=USERNAME, password=os.urandom(12).hex())
        links = []
        for url in cfg["urls"]:
            link, _ = link_create(owner=user, url=url, capture=False)
            links.append(link)
        recycle = settings.SNAPSHOT_BROWSER_RECYCLE
        log(f"[{run}] {len(links)} links created; SNAPSHOT_BROWSER_RECYCLE={recycle}")

        exclude = {redis_proc.pid} if redis_proc is not None else set()
        nodename = f"bench-{run}@{socket.gethostname()}"
        worker = worker_start(cfg, env, nodename)
        protected = exclude | {worker.pid}
        worker_wait_ready(worker, nodename, run_dir / "worker.log")
        sampler = TreeSampler(exclude, run_dir / "procs.txt")
        sampler.start()
        time.sleep(1.0)  # a few samples of the idle worker
        idle = sampler.window(0, time.monotonic())
        cpu0 = tree_cpu_seconds(exclude, protected)
        cpu_mark = sampler.cpu_mark()
        log(f"[{run}] worker ready (pid {worker.pid}, idle tree {idle.get('peak_rss_mb')} MB RSS); queueing")

        # --- timed: from the first request to the last finished snapshot ---
        load_before = os.getloadavg()
        t0_wall = timezone.now()
        t0 = time.monotonic()
        order = random.Random(SEED).sample(range(len(links)), len(links))  # sizes mixed
        ids = [snapshot_request(link=links[i]).pk for i in order]  # each commits, then queues
        queued_in = time.monotonic() - t0
        deadline = t0 + cfg["timeout"]
        finished = 0
        last_log = t0
        while time.monotonic() < deadline:
            finished = Snapshot.objects.filter(
                pk__in=ids, status__in=(Snapshot.Status.SUCCEEDED, Snapshot.Status.FAILED)
            ).count()
            if finished == len(ids):
                break
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited with {worker.returncode} during the run")
            if time.monotonic() - last_log >= 15:
                last_log = time.monotonic()
                log(f"[{run}] {finished}/{len(ids)} finished after {last_log - t0:.0f}s")
            reap(protected)
            time.sleep(POLL_EVERY)
        t_end = time.monotonic()
        load_after = os.getloadavg()
        cpu_tree = tree_cpu_seconds(exclude, protected) - cpu0
        time.sleep(SAMPLE_EVERY * 1.5)  # one more sample
        sampler.stop()
        cpu_by_kind = sampler.cpu_since(cpu_mark)
        # Without the subreaper, both counts are lower bounds: the tree's loses browser processes
        # orphaned before they exited, the samples lose each process's last moments.
        cpu = cpu_tree if subreaper else max(cpu_tree, sum(cpu_by_kind.values()))
        timed_out = finished < len(ids)
        memory = sampler.window(t0, t_end)
        log(
            f"[{run}] {finished}/{len(ids)} finished in {t_end - t0:.1f}s"
            + (" (TIMED OUT)" if timed_out else "")
        )
        result.update(
            collect(ids, t0_wall, wall_fallback=t_end - t0, concurrency=cfg["concurrency"], settings=settings)
        )
        result["queue_order"] = [cfg["paths"][i] for i in order]
        result.update(
            {
                "timed_out": timed_out,
                "queued_in_seconds": round(queued_in, 3),
                "poll_elapsed_seconds": round(t_end - t0, 3),
                "memory": memory,
                "memory_idle": idle,
                "browsers_seen": len(sampler.browsers),
                "processes_seen": len(sampler.seen),
                "worker_cpu_seconds": round(cpu, 2),
                "worker_cpu_seconds_tree": round(cpu_tree, 2),
                "worker_cpu_seconds_sampled_by_kind": {k: round(v, 2) for k, v in cpu_by_kind.items()},
                "cpu_exact": subreaper,
                "worker_cpu_seconds_per_page": round(cpu / max(1, finished), 3),
                "load_before": load_before,
                "load_after": load_after,
                "db_version": db_version,
                "recycle": settings.SNAPSHOT_BROWSER_RECYCLE,
                "media_bytes_on_disk": _dir_bytes(Path(settings.MEDIA_ROOT)),
                "worker_log_problems": _log_problems(run_dir / "worker.log"),
            }
        )
        worker_stop(worker, exclude)
        worker = None
        if cfg["profile_pages"] > 0:
            try:
                result["profile"] = profile_capture(cfg, exclude)
            except Exception as exc:  # the runs' numbers are worth keeping without it
                log(f"[profile] failed: {exc!r}")
                result["profile"] = {"error": repr(exc), "pages": []}
        return result
    finally:
        worker_stop(worker, exclude)
        if sampler is not None and sampler.is_alive():
            sampler.stop()
        if redis_proc is not None:
            redis_proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                redis_proc.wait(timeout=10)
            if redis_proc.poll() is None:
                redis_proc.kill()
        connection.close()


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def _log_problems(path: Path) -> list[str]:
    if not path.exists():
        return []
    lines = path.read_text(errors="replace").splitlines()
    return [ln[:300] for ln in lines if " ERROR" in ln or " WARNING" in ln or "Traceback" in ln][:50]


def collect(ids: list[int], t0_wall, *, wall_fallback: float, concurrency: int, settings) -> dict:
    """Everything the Snapshot rows say about the run."""
    from snapshots.models import Snapshot, SnapshotArtifact

    rows = list(
        Snapshot.objects.filter(pk__in=ids).values(
            "pk",
            "url",
            "status",
            "failure_reason",
            "failure_detail",
            "suspect_reason",
            "attempts",
            "provenance",
            "requested_at",
            "started_at",
            "finished_at",
        )
    )
    arts: dict[int, dict[str, int]] = {}
    for sid, name, size in SnapshotArtifact.objects.filter(snapshot_id__in=ids).values_list(
        "snapshot_id", "name", "artifact__size"
    ):
        arts.setdefault(sid, {})[name] = size
    done = [r for r in rows if r["status"] in (Snapshot.Status.SUCCEEDED, Snapshot.Status.FAILED)]
    ok = [r for r in rows if r["status"] == Snapshot.Status.SUCCEEDED]
    good = [r for r in ok if not r["suspect_reason"]]
    failed = [r for r in rows if r["status"] == Snapshot.Status.FAILED]
    last = max((r["finished_at"] for r in done), default=None)
    elapsed = (last - t0_wall).total_seconds() if last and len(done) == len(rows) else wall_fallback
    reasons: dict[str, int] = {}
    for r in failed:
        reasons[r["failure_reason"] or "?"] = reasons.get(r["failure_reason"] or "?", 0) + 1

    stages: dict[str, list[float]] = {
        k: []
        for k in (
            "queue_wait",
            "navigation",
            "settle",
            "capture",
            "render_other",
            "store",
            "check_db",
            "busy",
        )
    }
    latency, render = [], []
    per_snapshot = []
    stored, heights, clipped = [], [], 0
    browser = ""
    for r in done:
        latency.append((r["finished_at"] - r["requested_at"]).total_seconds())
        tm = (r["provenance"] or {}).get("timings") or {}
        per_snapshot.append(
            {
                "path": urlsplit(r["url"]).path.lstrip("/"),
                "status": r["status"],
                "attempts": r["attempts"],
                "started": round((r["started_at"] - t0_wall).total_seconds(), 3) if r["started_at"] else None,
                "latency": round(latency[-1], 3),
                "timings": tm,
                "page_height": ((r["provenance"] or {}).get("capture") or {}).get("page_height"),
                "stored": ((r["provenance"] or {}).get("bytes") or {}).get("stored"),
            }
        )
        if r["started_at"]:
            busy = (r["finished_at"] - r["started_at"]).total_seconds()
            stages["busy"].append(busy)
        if not all(k in tm for k in ("navigation", "settle", "capture", "store", "total")):
            continue
        render.append(tm["navigation"] + tm["settle"] + tm["capture"] + tm["store"])
        for k in ("navigation", "settle", "capture", "store"):
            stages[k].append(tm[k])
        if tm.get("queue_wait") is not None:
            stages["queue_wait"].append(tm["queue_wait"])
        # In the render thread but in no stage: context, proxy session, thumbnail, a browser launch.
        stages["render_other"].append(max(0.0, tm["total"] - tm["navigation"] - tm["settle"] - tm["capture"]))
        if r["started_at"]:
            # Claim, quality check, DB writes around the store, the link's search text.
            stages["check_db"].append(max(0.0, busy - tm["total"] - tm["store"]))
        prov = r["provenance"]
        stored.append((prov.get("bytes") or {}).get("stored", 0))
        cap = prov.get("capture") or {}
        if cap.get("page_height"):
            heights.append(cap["page_height"])
        clipped += bool(cap.get("clipped"))
        browser = browser or prov.get("browser", "")
    missing = {
        r["url"].rsplit("/", 2)[-2] + "/" + r["url"].rsplit("/", 1)[-1]: [
            a for a in REQUIRED_ARTIFACTS if a not in arts.get(r["pk"], {})
        ]
        for r in ok
    }
    missing = {k: v for k, v in missing.items() if v}
    sizes = {
        a: round(statistics.fmean(arts[r["pk"]][a] for r in ok if a in arts.get(r["pk"], {})) / 1024, 1)
        for a in REQUIRED_ARTIFACTS
        if any(a in arts.get(r["pk"], {}) for r in ok)
    }
    n = len(rows)
    return {
        "pages": n,
        "finished": len(done),
        "succeeded": len(ok),
        "good": len(good),
        "failed": len(failed),
        "failure_rate": round(len(failed) / n, 4) if n else 0,
        "failure_reasons": reasons,
        "failures": [
            {"url": r["url"], "reason": r["failure_reason"], "detail": r["failure_detail"][:300]}
            for r in failed
        ][:20],
        "suspect": sum(1 for r in rows if r["suspect_reason"]),
        "suspects": [
            {"url": r["url"], "reason": r["suspect_reason"][:200]} for r in rows if r["suspect_reason"]
        ][:20],
        "retried": sum(1 for r in rows if r["attempts"] > 1),
        "elapsed_seconds": round(elapsed, 3),
        "pages_per_minute": round(len(done) * 60 / elapsed, 2) if elapsed > 0 else 0,
        "good_pages_per_minute": round(len(good) * 60 / elapsed, 2) if elapsed > 0 else 0,
        "latency_seconds": dist(latency),
        "render_seconds": dist(render),
        "stages_seconds": {k: dist(v) for k, v in stages.items()},
        "utilisation": round(sum(stages["busy"]) / (concurrency * elapsed), 3) if elapsed > 0 else 0,
        "stored_bytes_per_page": round(statistics.fmean(stored)) if stored else 0,
        "artifact_kb_mean": sizes,
        "artifacts_missing": missing,
        "artifacts_ok": not missing and len(ok) > 0,
        "page_height": dist([float(h) for h in heights]),
        "screenshots_clipped": clipped,
        "browser": browser,
        "snapshots": sorted(per_snapshot, key=lambda x: x["started"] or 0),
        "settings": {
            "SNAPSHOT_SETTLE_TIMEOUT": settings.SNAPSHOT_SETTLE_TIMEOUT,
            "SNAPSHOT_QUIET_SECONDS": settings.SNAPSHOT_QUIET_SECONDS,
            "SNAPSHOT_SCROLL_STEPS": settings.SNAPSHOT_SCROLL_STEPS,
            "SNAPSHOT_MAX_SCREENSHOT_HEIGHT": settings.SNAPSHOT_MAX_SCREENSHOT_HEIGHT,
            "SNAPSHOT_MAX_ATTEMPTS": settings.SNAPSHOT_MAX_ATTEMPTS,
        },
    }


# --- profile: where a render's time goes (in-process, instrumented, one page at a time) ------------


STEPS = (
    ("context", "new context + page"),
    ("goto", "navigation (goto)"),
    ("load_event", "settle: load event"),
    ("quiet", "settle: quiet network x2"),
    ("scroll", "settle: scroll (JS)"),
    ("images", "settle: image decode"),
    ("content", "capture: page.content()"),
    ("metadata", "capture: extract_metadata"),
    ("screenshot", "capture: screenshot"),
    ("pdf", "capture: PDF"),
    ("resources", "capture: response bodies"),
    ("archive", "capture: build_archive"),
    ("text", "capture: extract_text"),
    ("thumbnail", "thumbnail (no stage)"),
    ("close", "context close"),
    ("quality", "quality check (assess)"),
)


def _descendants_cpu(exclude: set[int]) -> float:
    """CPU so far of this process's descendants (Playwright's driver, Chromium), reaped ones included."""
    import psutil

    total = 0.0
    for proc in tree(exclude):
        with contextlib.suppress(psutil.Error):
            t = proc.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return total + ru.ru_utime + ru.ru_stime


def profile_capture(cfg: dict, exclude: set[int]) -> dict:
    """Render a spread of corpus pages again with the renderer's steps wrapped in timers: wall
    time, CPU of this process (Python: the render thread, the guard proxy) and CPU of its
    descendants (the Playwright driver and Chromium) per step."""
    from playwright.sync_api import BrowserContext, Page

    from snapshots import quality
    from snapshots.renderer import render
    from snapshots.renderer.browser import POOL, RENDERER

    urls = cfg["urls"]
    k = min(cfg["profile_pages"], len(urls))
    picks = sorted({round(i * (len(urls) - 1) / max(1, k - 1)) for i in range(k)})
    wall: dict[str, float] = {}
    cpu_py: dict[str, float] = {}
    cpu_br: dict[str, float] = {}
    walks = [0.0]  # CPU this process spent measuring (taken out of the Python figures)
    patched: list[tuple[object, str, object]] = []

    def measure() -> float:
        s = time.process_time()
        value = _descendants_cpu(exclude)
        walks[0] += time.process_time() - s
        return value

    def wrap(owner, attr: str, name_of) -> None:
        original = getattr(owner, attr)

        @functools.wraps(original)
        def timed(*a, **kw):
            b0 = measure()
            p0, t0 = time.process_time(), time.perf_counter()
            try:
                return original(*a, **kw)
            finally:
                t1, p1 = time.perf_counter(), time.process_time()
                b1 = measure()
                name = name_of(a, kw)
                wall[name] = wall.get(name, 0.0) + t1 - t0
                cpu_py[name] = cpu_py.get(name, 0.0) + p1 - p0
                cpu_br[name] = cpu_br.get(name, 0.0) + b1 - b0

        patched.append((owner, attr, original))
        setattr(owner, attr, timed)

    scripts = {render.SCROLL_JS: "scroll", render.IMAGES_JS: "images"}

    def const(name):
        return lambda a, kw: name

    wrap(Page, "goto", const("goto"))
    wrap(Page, "wait_for_load_state", const("load_event"))
    wrap(
        Page, "evaluate", lambda a, kw: scripts.get(a[1] if len(a) > 1 else kw.get("expression"), "evaluate")
    )
    wrap(Page, "content", const("content"))
    wrap(render, "_screenshot", const("screenshot"))  # the full page and the thumbnail (CDP)
    wrap(Page, "pdf", const("pdf"))
    wrap(BrowserContext, "close", const("close"))
    wrap(render, "_new_context", const("context"))
    wrap(BrowserContext, "new_page", const("context"))
    wrap(render, "_wait_quiet", const("quiet"))
    wrap(render, "extract_metadata", const("metadata"))
    wrap(render, "_resources", const("resources"))
    wrap(render, "build_archive", const("archive"))
    wrap(render, "extract_text", const("text"))
    wrap(render, "_thumbnail", const("thumbnail"))
    wrap(quality, "assess", const("quality"))
    rows = []
    try:
        RENDERER.run(render.render_url, urls[picks[0]], timeout=120)  # warm-up: browser launch
        for i in picks:
            for d in (wall, cpu_py, cpu_br):
                d.clear()
            walks[0] = 0.0
            b0 = _descendants_cpu(exclude)
            p0, t0 = time.process_time(), time.perf_counter()
            capture, prov = RENDERER.run(render.render_url, urls[i], timeout=120)
            quality.assess(
                http_status=capture.http_status,
                title=capture.meta.title,
                text=capture.text,
                html=capture.html or "",
                screenshot_png=capture.screenshot,
                content_type=capture.content_type or "text/html",
            )
            t1, p1 = time.perf_counter(), time.process_time()
            b1 = _descendants_cpu(exclude)

            def r3(d: dict[str, float]) -> dict[str, float]:
                return {name: round(d.get(name, 0.0), 3) for name, _ in STEPS}

            rows.append(
                {
                    "path": cfg["paths"][i],
                    "kb": round(cfg["sizes"][i] / 1024),
                    "height": (prov.get("capture") or {}).get("page_height"),
                    "total": round(t1 - t0, 3),
                    "cpu_python_total": round(p1 - p0 - walks[0], 3),
                    "cpu_browser_total": round(b1 - b0, 3),
                    "steps": r3(wall),
                    "cpu_python": r3(cpu_py),
                    "cpu_browser": r3(cpu_br),
                    "screenshot_kb": round(len(capture.screenshot or b"") / 1024),
                    "pdf_kb": round(len(capture.pdf or b"") / 1024),
                    "html_kb": round(len(capture.html or "") / 1024),
                }
            )
            log(
                f"[profile] {cfg['paths'][i]}: {t1 - t0:.2f}s, CPU {b1 - b0:.2f}s browser + "
                f"{p1 - p0 - walks[0]:.2f}s Python"
            )
    finally:
        for owner, attr, original in reversed(patched):
            setattr(owner, attr, original)
        with contextlib.suppress(Exception):
            RENDERER.run(POOL.close, timeout=30)
    return {"pages": rows}


# --- parent: the runs, the report --------------------------------------------------------------------


def run_one(cfg: dict, timeout: float) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--run-child", json.dumps(cfg)]
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise RuntimeError(f"run {cfg['run']} did not finish in {timeout:.0f}s") from None
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    line = next((ln for ln in out.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"run {cfg['run']} failed ({proc.returncode}); see its output above")
    result = json.loads(line.removeprefix("BENCH_JSON "))
    result["http_server_cpu_seconds"] = round(
        ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime, 2
    )  # this process only serves the corpus while the child runs
    return result


def cleanup_leftovers(run_dir: Path) -> None:
    """After a child that died: its worker's process group, the browsers and drivers its sampler
    saw (Playwright starts Chromium in a session of its own), and its Redis, if still there."""
    import psutil

    f = run_dir / "worker.pid"
    if f.exists():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(int(f.read_text()), signal.SIGKILL)
    f = run_dir / "procs.txt"
    for line in f.read_text().splitlines() if f.exists() else []:
        pid, created = line.split()
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(int(pid))
            if abs(proc.create_time() - float(created)) < 0.01:  # the same process, not a reused pid
                proc.kill()
    f = run_dir / "redis.pid"
    if f.exists():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(int(f.read_text()), signal.SIGKILL)


def env_overrides() -> dict[str, str]:
    """Settings the runs inherit from this environment (to try a change without editing code)."""
    return {k: v for k, v in sorted(os.environ.items()) if k.startswith("SNAPSHOT_") or k == "CHROMIUM_PATH"}


def fmt_ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a and b else "-"


def print_report(results: list[dict], args: argparse.Namespace, db_label: str, corpus: dict) -> dict:
    r0 = results[0]
    print()
    print(
        f"=== Snapshot pipeline: {r0['pages']} pages of the Python 3.11 docs on loopback — {db_label} "
        f"({r0['db_version']}), Celery worker -c {args.concurrency}, {r0['browser']}, "
        f"{os.cpu_count()} CPUs ==="
    )
    if env_overrides():
        print("settings from the environment: " + " ".join(f"{k}={v}" for k, v in env_overrides().items()))
    head = (
        f"{'run':<9} {'browser':<11} {'pages/min':>9} {'good/min':>8} {'failed':>6} {'suspect':>7} "
        f"{'latency p50/p95 s':>17} {'render p50/p95 s':>16} {'peak RSS MB':>11} {'mean RSS MB':>11} "
        f"{'peak PSS MB':>11} {'CPU s/page':>10} {'KB/page':>8} {'browsers':>8}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        m = r["memory"]
        lat, ren = r["latency_seconds"], r["render_seconds"]
        mode = "new/page" if r["recycle"] == 1 else f"reused/{r['recycle']}"
        print(
            f"{r['run']:<9} {mode:<11} {r['pages_per_minute']:>9.1f} {r['good_pages_per_minute']:>8.1f} "
            f"{r['failed']:>6} {r['suspect']:>7} "
            f"{lat.get('p50', 0):>8.1f}/{lat.get('p95', 0):<8.1f} "
            f"{ren.get('p50', 0):>7.2f}/{ren.get('p95', 0):<8.2f} "
            f"{m.get('peak_rss_mb', 0):>11.0f} {m.get('mean_rss_mb', 0):>11.0f} "
            f"{m.get('peak_pss_mb') or 0:>11.0f} "
            f"{r['worker_cpu_seconds_per_page']:>10.2f} {r['stored_bytes_per_page'] / 1024:>8.0f} "
            f"{r['browsers_seen']:>8}"
        )
    ratios: dict = {}
    if len(results) > 1:
        ours, base = results[0], results[1]
        ratios = {
            "pages_per_minute": _ratio(ours["pages_per_minute"], base["pages_per_minute"]),
            "peak_rss": _ratio(ours["memory"].get("peak_rss_mb"), base["memory"].get("peak_rss_mb")),
            "mean_rss": _ratio(ours["memory"].get("mean_rss_mb"), base["memory"].get("mean_rss_mb")),
            "peak_pss": _ratio(ours["memory"].get("peak_pss_mb"), base["memory"].get("peak_pss_mb")),
            "render_p50": _ratio(ours["render_seconds"].get("p50"), base["render_seconds"].get("p50")),
            "cpu_per_page": _ratio(ours["worker_cpu_seconds_per_page"], base["worker_cpu_seconds_per_page"]),
        }
        print(
            f"{'ours/base':<21} {fmt_ratio(ours['pages_per_minute'], base['pages_per_minute']):>9} "
            f"{'':>8} {'':>6} {'':>7} {'':>17} "
            f"{fmt_ratio(ours['render_seconds'].get('p50'), base['render_seconds'].get('p50')):>8}{'':>9} "
            f"{fmt_ratio(ours['memory'].get('peak_rss_mb'), base['memory'].get('peak_rss_mb')):>11} "
            f"{fmt_ratio(ours['memory'].get('mean_rss_mb'), base['memory'].get('mean_rss_mb')):>11} "
            f"{fmt_ratio(ours['memory'].get('peak_pss_mb'), base['memory'].get('peak_pss_mb')):>11} "
            f"{fmt_ratio(ours['worker_cpu_seconds_per_page'], base['worker_cpu_seconds_per_page']):>10}"
        )
    print(
        "latency = finished_at - requested_at (all queued at once, so mostly queue wait); render = navigation"
        " + settle + capture + store; RSS/PSS summed over the worker tree (Celery, drivers, Chromium)"
    )
    for r in results:
        extra = []
        if r["failure_reasons"]:
            extra.append("failures: " + ", ".join(f"{k} {v}" for k, v in r["failure_reasons"].items()))
        if r["retried"]:
            extra.append(f"{r['retried']} retried")
        if r["timed_out"]:
            extra.append(f"TIMED OUT after {args.timeout:g}s ({r['finished']}/{r['pages']} finished)")
        arts = "all present" if r["artifacts_ok"] else f"MISSING in {len(r['artifacts_missing'])}"
        by_kind = ", ".join(
            f"{k} {v:.0f}" for k, v in r["memory"].get("peak_rss_by_kind_mb", {}).items() if v
        )
        print(
            f"{r['run']}: {r['finished']} pages in {r['elapsed_seconds']:.1f}s, worker busy "
            f"{r['utilisation'] * 100:.0f}% of {args.concurrency} slots; every artifact in every succeeded "
            f"snapshot: {arts}; mean KB "
            + ", ".join(f"{k} {v:.0f}" for k, v in r["artifact_kb_mean"].items())
            + f"; {r['screenshots_clipped']} screenshots clipped at "
            f"{r['settings']['SNAPSHOT_MAX_SCREENSHOT_HEIGHT']} px"
        )
        print(
            f"{'':{len(r['run']) + 2}}peak RSS MB by process: {by_kind} ({r['memory'].get('peak_processes')} "
            f"processes at most; idle worker {r['memory_idle'].get('peak_rss_mb'):.0f}); CPU "
            f"{r['worker_cpu_seconds']:.0f} s in the worker tree"
            + ("" if r["cpu_exact"] else " (a lower bound: no subreaper)")
            + ", per page by process (sampled): "
            + ", ".join(
                f"{k} {v / max(1, r['finished']):.2f}"
                for k, v in r["worker_cpu_seconds_sampled_by_kind"].items()
                if v > 0.05
            )
            + f"; {r['http_server_cpu_seconds']:.1f} s in the corpus server"
            + ("; " + "; ".join(extra) if extra else "")
        )
        for f in r["failures"][:5]:
            print(f"    failed {f['url']}: {f['reason']}: {f['detail'][:150]}")
        for s in r["suspects"][:5]:
            print(f"    suspect {s['url']}: {s['reason'][:150]}")
        for path, names in list(r["artifacts_missing"].items())[:5]:
            print(f"    missing in {path}: {', '.join(names)}")

    print()
    print("=== Time per stage (seconds per snapshot, from each Snapshot's provenance timings) ===")
    names = [
        ("queue_wait", "queue wait (not_before -> claim)"),
        ("navigation", "navigation (to DOMContentLoaded)"),
        ("settle", "settle (load, quiet, scroll, images)"),
        ("capture", "capture (DOM, screenshot, PDF, archive, text)"),
        ("render_other", "render, outside stages (context, thumbnail, launch)"),
        ("store", "store (artifacts, rows)"),
        ("check_db", "claim, quality check, DB writes"),
        ("busy", "worker busy (claim -> finished)"),
    ]
    head = f"{'stage':<52}" + "".join(
        f" {r['run'] + ' mean':>14} {'p50':>6} {'p95':>6} {'share':>6}" for r in results
    )
    print(head)
    print("-" * len(head))
    for key, label in names:
        line = f"{label:<52}"
        for r in results:
            d = r["stages_seconds"][key]
            busy = r["stages_seconds"]["busy"].get("sum") or 0
            share = (
                "" if key in ("queue_wait", "busy") or not busy else f"{d.get('sum', 0) / busy * 100:.0f}%"
            )
            line += f" {d.get('mean', 0):>14.2f} {d.get('p50', 0):>6.2f} {d.get('p95', 0):>6.2f} {share:>6}"
        print(line)
    print("share = the stage's part of the worker's busy time (claim -> finished)")

    prof = results[0].get("profile")
    if prof and prof["pages"]:
        pages = prof["pages"]
        print()
        print(
            f"=== Profile: {len(pages)} corpus pages rendered again in-process, one at a time, "
            "seconds per page (mean) ==="
        )
        print(
            "pages: "
            + ", ".join(
                f"{p['path']} ({p['kb']} KB, {p['height'] or 0} px: {p['total']:.2f}s)" for p in pages
            )
        )

        def mean(key: str, step: str | None = None) -> float:
            return statistics.fmean(p[key][step] if step else p[key] for p in pages)

        wall_total = mean("total")
        cpu_total = mean("cpu_python_total") + mean("cpu_browser_total")
        largest = max(pages, key=lambda p: p["kb"])
        head = (
            f"{'step':<34} {'wall':>6} {'share':>6} {'CPU Chromium':>12} {'CPU Python':>10} {'CPU share':>9}"
            f"  {'largest page: wall':>18} {'CPU':>6}"
        )
        print(head)
        print("-" * len(head))
        for key, label in STEPS:
            w, cb, cp = mean("steps", key), mean("cpu_browser", key), mean("cpu_python", key)
            big = largest["cpu_browser"][key] + largest["cpu_python"][key]
            share = (cb + cp) / cpu_total * 100 if cpu_total else 0
            print(
                f"{label:<34} {w:>6.2f} {w / wall_total * 100:>5.0f}% {cb:>12.2f} {cp:>10.2f} "
                f"{share:>8.0f}%  {largest['steps'][key]:>18.2f} {big:>6.2f}"
            )
        w_rest = wall_total - sum(mean("steps", k) for k, _ in STEPS)
        cb_rest = mean("cpu_browser_total") - sum(mean("cpu_browser", k) for k, _ in STEPS)
        cp_rest = mean("cpu_python_total") - sum(mean("cpu_python", k) for k, _ in STEPS)
        share = (cb_rest + cp_rest) / cpu_total * 100 if cpu_total else 0
        print(
            f"{'(not in any step above)':<34} {w_rest:>6.2f} {w_rest / wall_total * 100:>5.0f}% "
            f"{cb_rest:>12.2f} {cp_rest:>10.2f} {share:>8.0f}%"
        )
        print(
            f"{'render + quality check':<34} {wall_total:>6.2f}   100% {mean('cpu_browser_total'):>12.2f} "
            f"{mean('cpu_python_total'):>10.2f}      100%"
        )
        print("CPU Chromium = Chromium and Playwright's driver; CPU Python = the render thread and the proxy")

    print()
    ours = results[0]
    print(
        f"single-file-cli: {SINGLEFILE_PPM:g} pages/min, HTML only, {SINGLEFILE_FAILURE_RATE:.0%} failures"
        " — ours: "
        f"{ours['pages_per_minute']:.1f} pages/min ({ours['pages_per_minute'] / SINGLEFILE_PPM:.2f}x), "
        f"screenshot + thumbnail + PDF + HTML + text, {ours['failure_rate']:.0%} failures"
    )
    meets = ours["pages_per_minute"] >= TARGET_PPM and ours["failed"] == 0 and ours["artifacts_ok"]
    print(
        f"aim: {TARGET_PPM:g} pages/min with every artifact and no failures — "
        f"{'MET' if meets else 'MISSED'} ({ours['pages_per_minute'] / TARGET_PPM:.0%} of the aim, "
        f"{ours['failed']} failed)"
    )
    cpu = ours["worker_cpu_seconds_per_page"]
    if cpu:
        print(
            f"CPU-bound ceiling of ours: ~{(os.cpu_count() or 1) * 60 / cpu:.0f} pages/min "
            f"({os.cpu_count()} CPUs x 60 / {cpu:.2f} CPU s per page in the worker tree)"
        )
    print(
        f"corpus: {corpus['pages']} pages, {corpus['total_bytes'] / 1024 / 1024:.1f} MB of HTML; KB "
        f"p0/p25/p50/p75/p90/p100 = {corpus['p0_kb']:g}/{corpus['p25_kb']:g}/{corpus['p50_kb']:g}/"
        f"{corpus['p75_kb']:g}/{corpus['p90_kb']:g}/{corpus['p100_kb']:g}, mean {corpus['mean_kb']:g}, "
        f"{corpus['over_200kb']} over 200 KB"
    )
    for r in results:
        print(
            f"load average during {r['run']}: {r['load_before'][0]:.2f} before / "
            f"{r['load_after'][0]:.2f} after "
            f"(on {os.cpu_count()} CPUs; other work on the machine skews the numbers)"
        )
    return ratios


def _ratio(a, b) -> float | None:
    return round(a / b, 3) if a and b else None


def _git_commit() -> str:
    with contextlib.suppress(OSError):
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "snapshots", "linkhub"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    return ""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # clean up on SIGTERM as on Ctrl-C
    if args.run_child:
        cfg = json.loads(args.run_child)
        try:
            result = run_child(cfg)
        except KeyboardInterrupt:
            log(f"[{cfg['run']}] interrupted")
            return 130
        print("BENCH_JSON " + json.dumps(result, default=str), flush=True)
        return 0

    picked = corpus_pick(args.pages)
    corpus = size_summary([s for _, s in picked])
    runs = [r for r in RUNS if not (args.skip_baseline and r[0] != "ours")]
    db_urls = {name: pg_url_for(args.database_url, name) if args.database_url else "" for name, _ in runs}
    db_label = "postgres" if args.database_url else "sqlite"
    for url in db_urls.values():
        if url and pg_exists(url):
            raise SystemExit(
                f"Database {_pg_admin(url)[0]!r} already exists. The benchmark only uses databases it "
                "creates itself; drop it (if it is a leftover bench database) or name another one."
            )

    tmp = Path(tempfile.mkdtemp(prefix="linkhub-bench-snap-"))
    server = None
    created: list[str] = []
    results: list[dict] = []
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        server = http_server_start()
        port = server.server_address[1]
        base = f"http://127.0.0.1:{port}/"
        log(f"temp dir {tmp}; corpus {CORPUS_DIR} served on {base}")
        log(
            f"corpus: {corpus['pages']} pages, KB p0/p50/p90/p100 {corpus['p0_kb']:g}/{corpus['p50_kb']:g}/"
            f"{corpus['p90_kb']:g}/{corpus['p100_kb']:g}, {corpus['over_200kb']} over 200 KB"
        )
        for path, _ in picked:  # warm the page cache, and check the server answers
            (CORPUS_DIR / path).read_bytes()
        import urllib.request

        with urllib.request.urlopen(base + picked[0][0], timeout=10) as resp:
            if resp.status != 200:
                raise RuntimeError(f"the corpus server answered {resp.status}")
        for name, recycle in runs:
            run_dir = tmp / name
            run_dir.mkdir()
            if db_urls[name]:
                pg_create(db_urls[name])
                created.append(db_urls[name])
            cfg = {
                "run": name,
                "recycle": recycle,
                "run_dir": str(run_dir),
                "database_url": db_urls[name] or f"sqlite:///{run_dir / 'bench.sqlite3'}",
                "redis_url": args.redis_url,
                "concurrency": args.concurrency,
                "timeout": args.timeout,
                "urls": [base + p for p, _ in picked],
                "paths": [p for p, _ in picked],
                "sizes": [s for _, s in picked],
                "profile_pages": args.profile_pages if name == "ours" else 0,
            }
            try:
                results.append(run_one(cfg, timeout=args.timeout + 600))
            finally:
                cleanup_leftovers(run_dir)
            r = results[-1]
            log(
                f"[{name}] {r['pages_per_minute']:.1f} pages/min, {r['failed']} failed, peak RSS "
                f"{r['memory'].get('peak_rss_mb')} MB, render p50 {r['render_seconds'].get('p50')}s"
            )
        ratios = print_report(results, args, db_label, corpus)

        import celery
        import django
        import playwright._repo_version

        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        out_path = RESULTS_DIR / f"snapshots-{db_label}-{stamp}.json"
        report = {
            "benchmark": "snapshot pipeline",
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "label": args.label,
            "database": {"vendor": db_label, "version": results[0]["db_version"]},
            "config": {
                "pages": args.pages,
                "concurrency": args.concurrency,
                "timeout": args.timeout,
                "redis": "external" if args.redis_url else "embedded",
                "environment": env_overrides(),
                "corpus_dir": str(CORPUS_DIR),
                "corpus": corpus,
                "corpus_pages": [{"path": p, "bytes": s} for p, s in picked],
            },
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
                "django": django.get_version(),
                "celery": celery.__version__,
                "playwright": playwright._repo_version.version,
                "git_commit": _git_commit(),
            },
            "runs": {r["run"]: r for r in results},
            "ratios_ours_over_baseline": ratios,
            "reference": {
                "singlefile_pages_per_minute": SINGLEFILE_PPM,
                "singlefile_failure_rate": SINGLEFILE_FAILURE_RATE,
                "target_pages_per_minute": TARGET_PPM,
            },
        }
        out_path.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"results written to {out_path.relative_to(ROOT)}")
        bad = [r["run"] for r in results if r["timed_out"] or not r["artifacts_ok"]]
        if bad:
            log(f"check failed for {', '.join(bad)}: timed out or artifacts missing")
            return 1
        return 0
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        for url in created:
            if args.keep:
                log(f"kept the database {url}")
                continue
            try:
                pg_drop(url)
            except Exception as exc:  # report, then still remove the temp dir
                log(f"could not drop {url}: {exc}")
        if args.keep:
            log(f"kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
