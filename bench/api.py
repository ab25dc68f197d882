"""Benchmark of ``GET /api/links/``: requests per second and latency, served by gunicorn on loopback.

    .venv/bin/python bench/api.py                       # SQLite in a temp dir, 10,000 links
    .venv/bin/python bench/api.py --database-url postgres://postgres@127.0.0.1:5432/linkhub_bench

What it does (only the load phases are timed):

1. Setup. Points ``LINKHUB_VAR_DIR`` at a fresh temp dir (nothing touches ``var/``), creates the
   database (a new SQLite file, or a PostgreSQL database that must not exist yet: the script
   creates it and drops it at the end, and never touches any other database), migrates, and
   seeds one user with ``--links`` links (1-4 tags each from a pool of ~200 names; titles and
   descriptions from ``/work/shared/datasets/awesome-selfhosted.jsonl`` when it is there) plus a
   second user with ``--other-links`` links, so the per-user filter has something to filter.
2. Starts gunicorn (``--workers`` sync workers, ``--threads``) on ``127.0.0.1:<free port>`` and
   waits for ``/healthz``; checks that one list page has ``--page-size`` results and that
   ``count`` equals ``--links``.
3. Load, from a separate process: ``wrk`` when installed (a Lua script adds the token and spreads
   requests over the pages), else a Python client (threads, keep-alive ``http.client``). Each
   scenario gets ``--warmup`` seconds of untimed load, then ``--seconds`` of timed load:
     healthz     GET /healthz (no database): the server's ceiling on this machine
     list        GET /api/links/?page=K&page_size=100, K cycling over every page
     search_tag  the same list with q=<--q> and tag=<--tag>, cycling over its pages
   (``--scenarios`` also knows ``search`` and ``tag``, each filter on its own).
4. Prints a table (req/s, p50/p95/p99 ms, errors), the list's ratio to the healthz ceiling and
   to linkding's 39 req/s, and writes the numbers to ``bench/results/api-<db>-<timestamp>.json``.
5. Optionally (``--profile N``) profiles N list requests in-process with cProfile through
   Django's test client and prints the SQL queries and the hottest functions.
6. Stops gunicorn, drops the bench database, deletes the temp dir (unless ``--keep``).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import ipaddress
import json
import math
import os
import platform
import random
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
DATASET = Path("/work/shared/datasets/awesome-selfhosted.jsonl")
LINKDING_RPS = 39.0  # linkding: a page of 100 of 10,000 links, SQLite, 2 gunicorn workers, 2 cores
TARGET_RATIO = 3.0  # the aim: 3x linkding
USERNAME = "bench"
OTHER_USERNAME = "bench-other"
TAG_POOL_SIZE = 200
SEED = 20240601
SCENARIOS = ("healthz", "list", "search", "tag", "search_tag")
DEFAULT_SCENARIOS = "healthz,list,search_tag"


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- options ----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--links", type=int, default=10_000, help="links of the benchmarked user")
    p.add_argument("--other-links", type=int, default=3_000, help="links of a second user")
    p.add_argument("--page-size", type=int, default=100)
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    p.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker (>1: gthread)")
    p.add_argument("--concurrency", type=int, default=8, help="open connections of the load client")
    p.add_argument("--seconds", type=float, default=20, help="timed load per scenario")
    p.add_argument("--warmup", type=float, default=3, help="untimed load before each scenario")
    p.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", ""),
        help="default: $DATABASE_URL, else a fresh SQLite file in the temp dir. A PostgreSQL "
        "database named here must not exist: it is created and dropped by this script.",
    )
    p.add_argument("--keep", action="store_true", help="keep the temp dir (and the bench database)")
    p.add_argument("--client", choices=("auto", "wrk", "python"), default="auto", help="load generator")
    p.add_argument(
        "--scenarios", default=DEFAULT_SCENARIOS, help=f"comma-separated, from: {', '.join(SCENARIOS)}"
    )
    p.add_argument("--q", default="server", help="search term of the search scenarios")
    p.add_argument("--tag", default="docker", help="tag of the tag scenarios")
    p.add_argument(
        "--content-text-kb",
        type=float,
        default=0,
        help="fill content_text (snapshot text) of every link with this many KB (default: empty)",
    )
    p.add_argument(
        "--profile", type=int, default=0, metavar="N", help="after the load, cProfile N list requests"
    )
    p.add_argument(
        "--gunicorn-args",
        default="",
        help='extra gunicorn arguments, e.g. "--preload" or "-c my_conf.py" (to try server settings)',
    )
    p.add_argument("--max-requests", type=int, default=5_000_000, help="python client: cap per scenario")
    p.add_argument("--label", default="", help="free text stored in the JSON (e.g. a branch name)")
    p.add_argument("--load-child", help=argparse.SUPPRESS)  # internal: run the Python load client
    args = p.parse_args(argv)
    if args.load_child:
        return args
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        p.error(f"unknown scenario(s): {', '.join(unknown)}")
    for name in ("links", "page_size", "workers", "threads", "concurrency"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.seconds <= 0 or args.warmup < 0:
        p.error("--seconds must be positive and --warmup not negative")
    if args.page_size > 500:
        p.error("--page-size above 500 is capped by the API (max_page_size)")
    return args


# --- database lifecycle -----------------------------------------------------------------------


@dataclass
class Database:
    url: str
    vendor: str  # "sqlite" or "postgresql"
    created: bool = False
    sqlite_path: Path | None = None
    pg_name: str = ""
    pg_admin_url: str = ""

    @property
    def label(self) -> str:
        return "sqlite" if self.vendor == "sqlite" else "postgres"


def _pg_urls(url: str) -> tuple[str, str]:
    """(database name, URL of the ``postgres`` maintenance database on the same server)."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name or "/" in name:
        raise SystemExit(f"The PostgreSQL URL needs a database name: {url}")
    scheme = "postgresql" if parts.scheme in ("postgres", "postgresql", "pgsql") else parts.scheme
    admin = urlunsplit((scheme, parts.netloc, "/postgres", parts.query, ""))
    return name, admin


def database_prepare(url: str, tmp: Path) -> Database:
    if not url:
        path = tmp / "bench.sqlite3"
        return Database(url=f"sqlite:///{path}", vendor="sqlite", created=True, sqlite_path=path)
    scheme = urlsplit(url).scheme
    if scheme.startswith("sqlite"):
        raw = url.split("://", 1)[1]
        path = Path(raw[1:] if raw.startswith("/") else raw)
        if not path.is_absolute():
            path = Path.cwd() / path
        if path.exists():
            raise SystemExit(f"{path} exists: the benchmark only seeds a new SQLite file.")
        return Database(url=url, vendor="sqlite", created=True, sqlite_path=path)
    if scheme not in ("postgres", "postgresql", "pgsql"):
        raise SystemExit(f"Unsupported database URL scheme: {scheme}")
    import psycopg
    from psycopg import sql

    name, admin = _pg_urls(url)
    if name in ("postgres", "template0", "template1"):
        raise SystemExit(f"Refusing to use the {name} database; name a dedicated one (linkhub_bench).")
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            raise SystemExit(
                f"Database {name!r} already exists. The benchmark only uses a database it creates "
                f"itself; drop it (if it is a leftover bench database) or name another one."
            )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    log(f"created PostgreSQL database {name}")
    return Database(url=url, vendor="postgresql", created=True, pg_name=name, pg_admin_url=admin)


def database_drop(db: Database) -> None:
    if not db.created:
        return
    if db.vendor == "postgresql":
        import psycopg
        from psycopg import sql

        with psycopg.connect(db.pg_admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db.pg_name))
            )
        log(f"dropped PostgreSQL database {db.pg_name}")
    elif db.sqlite_path is not None:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{db.sqlite_path}{suffix}").unlink()


def bench_env(tmp: Path, db: Database) -> dict[str, str]:
    """The environment of the setup and of gunicorn: same settings for both."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "linkhub.settings",
            "LINKHUB_VAR_DIR": str(tmp / "var"),
            "DATABASE_URL": db.url,
            "SECRET_KEY": "bench-" + os.urandom(16).hex(),
            "DEBUG": "false",
            "LOG_LEVEL": "WARNING",
            "LINKHUB_PLAIN_STATIC": "true",  # no collectstatic manifest needed
        }
    )
    (tmp / "var" / "static").mkdir(parents=True, exist_ok=True)  # WhiteNoise warns without it
    return env


# --- seeding ----------------------------------------------------------------------------------


def _dataset_rows() -> list[dict]:
    rows = []
    if DATASET.exists():
        with DATASET.open(encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if line:
                    row = json.loads(line)
                    if row.get("url", "").startswith(("http://", "https://")):
                        rows.append(row)
    if rows:
        return rows
    # Without the dataset: plausible synthetic rows.
    words = (
        "self-hosted open source server web app media photo manager wiki notes chat mail "
        "calendar files sync backup monitoring dashboard feed reader password vault music video "
        "streaming search analytics automation docker python go rust lightweight simple modern"
    ).split()
    rng = random.Random(SEED)
    for i in range(1500):
        title = " ".join(rng.sample(words, 2)).title()
        desc = " ".join(rng.sample(words, 12)).capitalize() + "."
        rows.append(
            {
                "url": f"https://{rng.choice(words)}{i % 300}.example.org/{rng.choice(words)}",
                "title": title,
                "description": desc,
                "tags": rng.sample(words, 2),
                "platforms": [rng.choice(["Docker", "Python", "Go", "PHP"])],
            }
        )
    return rows


def _tag_pool(rows: list[dict]) -> list[str]:
    pool: dict[str, None] = {}
    for key in ("tags", "platforms", "licenses"):
        for row in rows:
            for t in row.get(key) or []:
                name = " ".join(str(t).lower().split())[:100]
                if name:
                    pool.setdefault(name, None)
    extra = (
        "read-later reference tutorial to-try favourite work home-lab research tools inspiration "
        "documentation alternatives comparison news blog video podcast book course cheatsheet "
        "security privacy performance design ux frontend backend devops database networking "
        "hardware raspberry-pi nas kubernetes ansible terraform linux windows macos android ios"
    ).split()
    names = list(pool)[: TAG_POOL_SIZE - len(extra)]
    for e in extra:
        if len(names) >= TAG_POOL_SIZE:
            break
        if e not in pool:
            names.append(e)
    return names[:TAG_POOL_SIZE]


def _with_n(url: str, n: int) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&n={n}" if parts.query else f"n={n}"
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, ""))


NOTES = (
    "Looks promising, try it on the home server.",
    "Recommended in the forum thread about backups.",
    "Compare with the one we use at work.",
    "Check the Docker image size first.",
    "Good docs; the install guide is short.",
)
ORIGINS = ("user",) * 8 + ("import", "model")


def seed_user(*, owner, count: int, rows: list[dict], pool: list[str], rng: random.Random, content_kb: float):
    """Bulk-create ``count`` links for ``owner``, each with 1-4 tags; return their ids."""
    from linkhub.links.models import Link, TaggedLink
    from linkhub.links.normalize import normalize_url, url_domain
    from linkhub.links.services import link_search_refresh, tags_resolve

    tags = {t.name.lower(): t for t in tags_resolve(owner=owner, names=pool)}
    now = datetime.now(UTC)
    filler = ""
    if content_kb > 0:
        words = " ".join(f"{r['title']} {r.get('description', '')}" for r in rows[:200]).split()
        text = " ".join(rng.choice(words) for _ in range(int(content_kb * 1024 / 6) + 10))
        filler = text[: int(content_kb * 1024)]
    links: list[Link] = []
    wanted_tags: dict[str, list[str]] = {}
    seen: set[str] = set()
    i = 0
    while len(links) < count:
        row = rows[i % len(rows)]
        i += 1
        url = normalize_url(_with_n(row["url"], i))
        if url in seen:
            continue
        seen.add(url)
        # Newest first is the default order: spread over about three years, distinct times.
        created = now - timedelta(minutes=157 * len(links) + rng.randint(0, 120))
        links.append(
            Link(
                owner=owner,
                url=url,
                domain=url_domain(url),
                title=row.get("title", "")[:512],
                description=row.get("description", ""),
                notes=rng.choice(NOTES) if rng.random() < 0.15 else "",
                is_read=rng.random() < 0.6,
                is_private=rng.random() < 0.1,
                content_text=filler,
                created_at=created,
            )
        )
        names = [str(t).lower() for t in (row.get("tags") or [])[:2]]
        names += [str(t).lower() for t in (row.get("platforms") or [])[:2]]
        k = rng.randint(1, 4)
        chosen: list[str] = []
        for n in [*names, *rng.sample(pool, 6)]:
            n = " ".join(n.split())[:100]
            if n in tags and n not in chosen:
                chosen.append(n)
            if len(chosen) == k:
                break
        wanted_tags[url] = chosen
    Link.objects.bulk_create(links, batch_size=1000)
    ids = dict(Link.objects.filter(owner=owner).values_list("url", "id"))
    tagged = [
        TaggedLink(content_object_id=ids[url], tag=tags[name], origin=rng.choice(ORIGINS))
        for url, names in wanted_tags.items()
        for name in names
    ]
    TaggedLink.objects.bulk_create(tagged, batch_size=2000)
    all_ids = sorted(ids.values())
    for start in range(0, len(all_ids), 2000):
        link_search_refresh(link_ids=all_ids[start : start + 2000])  # a no-op on SQLite
    return all_ids, len(tagged)


def setup_django_and_seed(args: argparse.Namespace, env: dict[str, str]) -> dict:
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from linkhub.accounts.services import api_token_create, user_signup

    t0 = time.monotonic()
    call_command("migrate", interactive=False, verbosity=0)
    log(f"migrated in {time.monotonic() - t0:.1f}s")

    t0 = time.monotonic()
    rows = _dataset_rows()
    pool = _tag_pool(rows)
    rng = random.Random(SEED)
    with transaction.atomic():
        user = user_signup(username=USERNAME, password=os.urandom(12).hex())
        other = user_signup(username=OTHER_USERNAME, password=os.urandom(12).hex())
        _, key = api_token_create(user=user, name="bench")
        ids, n_tagged = seed_user(
            owner=user, count=args.links, rows=rows, pool=pool, rng=rng, content_kb=args.content_text_kb
        )
        other_ids, _ = seed_user(
            owner=other,
            count=args.other_links,
            rows=rows[::-1],
            pool=pool,
            rng=rng,
            content_kb=args.content_text_kb,
        )
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            # Autovacuum would analyse the fresh tables soon anyway; do it now so it cannot
            # kick in (and change plans) in the middle of a timed run.
            with connection.cursor() as c2:
                c2.execute("VACUUM ANALYZE")
            cur.execute("SELECT version()")
        else:
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cur.execute("SELECT 'SQLite ' || sqlite_version()")
        db_version = cur.fetchone()[0]
    log(
        f"seeded {len(ids):,} links ({n_tagged:,} tags on them, pool of {len(pool)} tag names) for "
        f"{USERNAME!r} and {len(other_ids):,} for {OTHER_USERNAME!r} in {time.monotonic() - t0:.1f}s"
    )
    connection.close()
    return {
        "token": key,
        "tag_pool": len(pool),
        "taggings": n_tagged,
        "db_version": db_version.split(" on ")[0],
        "dataset": str(DATASET) if DATASET.exists() else "synthetic",
    }


# --- gunicorn ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn_start(args: argparse.Namespace, env: dict[str, str], port: int, logfile: Path):
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "linkhub.wsgi:application",
        "-c",
        "python:linkhub.gunicorn_conf",  # as the run command and the Docker image serve it
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--threads",
        str(args.threads),
        "--timeout",
        "60",
        "--backlog",
        "2048",
        "--log-level",
        "warning",
        "--chdir",
        str(ROOT),
        *shlex.split(args.gunicorn_args),
    ]
    log("starting: " + " ".join(cmd[1:]))
    fh = logfile.open("wb")
    proc = subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}:\n{logfile.read_text()[-3000:]}")
        try:
            status, _ = http_get(port, "/healthz", {})
            if status == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.2)
    gunicorn_stop(proc)
    raise RuntimeError(f"gunicorn did not answer /healthz in 60s:\n{logfile.read_text()[-3000:]}")


def gunicorn_stop(proc) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)  # gunicorn's arbiter stops its workers
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def worker_pids(proc) -> list[int]:
    with contextlib.suppress(OSError):
        out = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True, check=False)
        return [int(x) for x in out.stdout.split()]
    return []


def cpu_seconds(pids: list[int]) -> float:
    """User+system CPU time of these processes so far (Linux /proc), in seconds."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def http_get(port: int, path: str, headers: dict[str, str], timeout: float = 30) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


# --- scenarios --------------------------------------------------------------------------------


@dataclass
class Scenario:
    name: str
    paths: list[str]
    headers: dict[str, str]
    count: int | None = None  # the list's count, for list scenarios
    result: dict = field(default_factory=dict)


def list_path(page: int, page_size: int, **params) -> str:
    query = {"page": page, "page_size": page_size, **{k: v for k, v in params.items() if v}}
    return "/api/links/?" + urlencode(query)


def scenarios_build(args: argparse.Namespace, port: int, token: str) -> list[Scenario]:
    auth = {"Authorization": f"Token {token}", "Accept": "application/json"}
    out = []
    filters = {"list": {}, "search": {"q": args.q}, "tag": {"tag": args.tag}}
    filters["search_tag"] = {"q": args.q, "tag": args.tag}
    for name in args.scenarios:
        if name == "healthz":
            status, _ = http_get(port, "/healthz", {})
            if status != 200:
                raise RuntimeError(f"/healthz answered {status}")
            out.append(Scenario(name, ["/healthz"], {"Accept": "application/json"}))
            continue
        params = filters[name]
        status, body = http_get(port, list_path(1, args.page_size, **params), auth)
        if status != 200:
            raise RuntimeError(f"{name}: page 1 answered {status}: {body[:300]!r}")
        data = json.loads(body)
        count, results = data["count"], data["results"]
        if name == "list":
            if count != args.links:
                raise RuntimeError(f"list: count is {count}, expected {args.links} (per-user filter?)")
            if len(results) != min(args.page_size, args.links):
                raise RuntimeError(f"list: page 1 has {len(results)} results, expected {args.page_size}")
            if not all(r.get("tags") for r in results):
                raise RuntimeError("list: some links came back without tags")
            log(
                f"verified: page 1 has {len(results)} results, count == {count:,}, "
                f"{len(body):,} bytes, {sum(len(r['tags']) for r in results)} tags on the page"
            )
        else:
            if count == 0:
                raise RuntimeError(f"{name}: {params} matches nothing; pick another --q/--tag")
            log(f"verified: {name} {params} matches {count:,} links ({len(results)} on page 1)")
        pages = max(1, math.ceil(count / args.page_size))
        # The last page of each scenario is requested too; check it is not an error.
        status, _ = http_get(port, list_path(pages, args.page_size, **params), auth)
        if status != 200:
            raise RuntimeError(f"{name}: last page {pages} answered {status}")
        out.append(
            Scenario(name, [list_path(p, args.page_size, **params) for p in range(1, pages + 1)], auth, count)
        )
    return out


# --- load: wrk --------------------------------------------------------------------------------

WRK_LUA = r"""
local paths = { %(paths)s }
local threads = {}
local counter = 0
local non200 = 0
%(headers)s

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  counter = (id or 0) * 37
end

function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end

function response(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + (t:get("non200") or 0) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %%.0f, "duration_us": %%.0f, "bytes": %%.0f, "connect_errors": %%.0f, '
    .. '"read_errors": %%.0f, "write_errors": %%.0f, "timeouts": %%.0f, "status_errors": %%.0f, '
    .. '"non200": %%.0f, "p50_us": %%.1f, "p95_us": %%.1f, "p99_us": %%.1f, "mean_us": %%.1f, '
    .. '"max_us": %%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.timeout,
    e.status, bad, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.mean, latency.max))
end
"""


def _lua_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def wrk_run(wrk: str, port: int, sc: Scenario, seconds: float, concurrency: int, tmp: Path) -> dict:
    script = tmp / f"wrk-{sc.name}.lua"
    headers = "\n".join(f"wrk.headers[{_lua_str(k)}] = {_lua_str(v)}" for k, v in sc.headers.items())
    script.write_text(WRK_LUA % {"paths": ", ".join(_lua_str(p) for p in sc.paths), "headers": headers})
    threads = max(1, min(2, concurrency))
    cmd = [
        wrk,
        f"-t{threads}",
        f"-c{concurrency}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "--latency",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}{sc.paths[0]}",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120, check=False)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    duration = raw["duration_us"] / 1e6
    socket_errors = raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] + raw["timeouts"]
    return {
        "requests": int(raw["requests"]),
        "seconds": round(duration, 3),
        "rps": raw["requests"] / duration if duration else 0.0,
        "p50_ms": raw["p50_us"] / 1000,
        "p95_ms": raw["p95_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "mean_ms": raw["mean_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "non200": int(raw["non200"]),
        "socket_errors": int(socket_errors),
        "errors": int(raw["non200"] + socket_errors),
        "bytes_per_response": raw["bytes"] / raw["requests"] if raw["requests"] else 0,
    }


# --- load: Python client (separate process) ---------------------------------------------------


def python_load_child(config_json: str) -> int:
    """Runs in its own process: threads with keep-alive connections, one latency per request."""
    cfg = json.loads(config_json)
    host, port = cfg["host"], cfg["port"]
    if not ipaddress.ip_address(host).is_loopback:
        raise SystemExit("the load client only targets loopback addresses")
    paths, headers = cfg["paths"], cfg["headers"]
    deadline = time.monotonic() + cfg["seconds"]
    max_requests = cfg["max_requests"]
    lock = threading.Lock()
    latencies: list[float] = []
    state = {"sent": 0, "non200": 0, "socket_errors": 0, "bytes": 0}

    def worker(n: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        i = n * 37
        local: list[float] = []
        non200 = errors = nbytes = 0
        while time.monotonic() < deadline:
            with lock:
                if state["sent"] >= max_requests:
                    break
                state["sent"] += 1
            i += 1
            t0 = time.perf_counter()
            try:
                conn.request("GET", paths[i % len(paths)], headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                local.append(time.perf_counter() - t0)
                nbytes += len(body) + 17 + sum(len(k) + len(v) + 4 for k, v in resp.getheaders())
                if resp.status != 200:
                    non200 += 1
                if resp.will_close:
                    conn.close()  # sync gunicorn workers close after each response
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
        conn.close()
        with lock:
            latencies.extend(local)
            state["non200"] += non200
            state["socket_errors"] += errors
            state["bytes"] += nbytes

    start = time.monotonic()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(cfg["concurrency"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    latencies.sort()

    def pct(p: float) -> float:
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, max(0, math.ceil(p / 100 * len(latencies)) - 1))] * 1000

    n = len(latencies)
    print(
        "BENCH_JSON "
        + json.dumps(
            {
                "requests": n,
                "seconds": round(elapsed, 3),
                "rps": n / elapsed if elapsed else 0.0,
                "p50_ms": pct(50),
                "p95_ms": pct(95),
                "p99_ms": pct(99),
                "mean_ms": statistics.fmean(latencies) * 1000 if n else 0.0,
                "max_ms": latencies[-1] * 1000 if n else 0.0,
                "non200": state["non200"],
                "socket_errors": state["socket_errors"],
                "errors": state["non200"] + state["socket_errors"],
                "bytes_per_response": state["bytes"] / n if n else 0,
            }
        ),
        flush=True,
    )
    return 0


def python_run(port: int, sc: Scenario, seconds: float, concurrency: int, max_requests: int) -> dict:
    cfg = {
        "host": "127.0.0.1",
        "port": port,
        "paths": sc.paths,
        "headers": sc.headers,
        "seconds": seconds,
        "concurrency": concurrency,
        "max_requests": max_requests,
    }
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--load-child", json.dumps(cfg)],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=False,
    )
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"python load client failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return json.loads(line.removeprefix("BENCH_JSON "))


# --- profiling --------------------------------------------------------------------------------


def profile_list(args: argparse.Namespace, token: str, stamp: str, db: Database) -> dict:
    """cProfile ``n`` list requests in-process (Django test client, no HTTP server)."""
    import cProfile
    import gc
    import io
    import pstats

    from django.db import connection
    from django.test import Client

    n = args.profile
    client = Client(
        HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST="127.0.0.1", HTTP_ACCEPT="application/json"
    )
    pages = max(1, math.ceil(args.links / args.page_size))
    paths = [list_path(1 + (i * 37) % pages, args.page_size) for i in range(n)]
    for p in paths[:3]:  # warm: imports, URL resolver, first connection
        assert client.get(p).status_code == 200
    # Queries of one request (the middle page), with the time of each cursor.execute() (the
    # rows of an SQLite query are partly read later, by fetchmany, so this is a lower bound).
    queries: list[dict] = []

    def timed(execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            queries.append({"ms": (time.perf_counter() - t0) * 1000, "sql": sql[:300]})

    with connection.execute_wrapper(timed):
        t0 = time.perf_counter()
        resp = client.get(list_path(max(1, pages // 2), args.page_size))
        one_ms = (time.perf_counter() - t0) * 1000
    assert resp.status_code == 200
    # Wall and CPU time per request without the profiler, and the share of the garbage collector.
    gc_cpu = {"seconds": 0.0, "full": 0}
    gc_start = [0.0]

    def gc_watch(phase: str, info: dict) -> None:
        if phase == "start":
            gc_start[0] = time.process_time()
        else:
            gc_cpu["seconds"] += time.process_time() - gc_start[0]
            gc_cpu["full"] += info["generation"] == 2

    gc.callbacks.append(gc_watch)
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        for p in paths:
            client.get(p)
        plain_ms = (time.perf_counter() - t0) * 1000 / n
        cpu_ms = (time.process_time() - c0) * 1000 / n
        gc_ms, gc_full = gc_cpu["seconds"] * 1000 / n, gc_cpu["full"]
        gc.freeze()  # what a gunicorn hook could do once the app is loaded
        c0 = time.process_time()
        for p in paths:
            client.get(p)
        frozen_cpu_ms = (time.process_time() - c0) * 1000 / n
        gc.unfreeze()
    finally:
        gc.callbacks.remove(gc_watch)
    # The collector's pauses land on whichever function happens to allocate, which scatters
    # them over the profile: profile with it off (its share is measured above).
    prof = cProfile.Profile()
    gc.collect()
    gc.disable()
    try:
        prof.enable()
        for p in paths:
            client.get(p)
        prof.disable()
    finally:
        gc.enable()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    prof_path = RESULTS_DIR / f"api-{db.label}-{stamp}.prof"
    prof.dump_stats(prof_path)
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf).strip_dirs()
    stats.sort_stats("cumulative").print_stats(35)
    stats.sort_stats("tottime").print_stats(25)
    print(
        "\n=== Profile: in-process list requests (Django test client, no HTTP; cProfile with the GC off) ==="
    )
    print(
        f"{n} requests without the profiler: {plain_ms:.1f} ms wall, {cpu_ms:.1f} ms CPU each, of which "
        f"{gc_ms:.1f} ms in the garbage collector ({gc_full} full collections); {frozen_cpu_ms:.1f} ms "
        f"CPU each after gc.freeze(). One request (captured below): {one_ms:.1f} ms"
    )
    sql_ms = sum(q["ms"] for q in queries)
    print(f"SQL of one request ({len(queries)} queries, {sql_ms:.1f} ms in cursor.execute):")
    for q in queries:
        print(f"  {q['ms']:7.2f} ms  {q['sql'][:200]}")
    print(buf.getvalue())
    print(f"profile saved to {prof_path} (open with: python -m pstats {prof_path}, or snakeviz)")
    connection.close()
    return {
        "requests": n,
        "ms_per_request_in_process": round(plain_ms, 2),
        "cpu_ms_per_request_in_process": round(cpu_ms, 2),
        "gc_cpu_ms_per_request": round(gc_ms, 2),
        "gc_full_collections": gc_full,
        "cpu_ms_per_request_after_gc_freeze": round(frozen_cpu_ms, 2),
        "queries": queries,
        "sql_ms": round(sum(q["ms"] for q in queries), 2),
        "prof_file": str(prof_path.relative_to(ROOT)),
    }


# --- report -----------------------------------------------------------------------------------


def print_table(results: list[Scenario], client: str, args: argparse.Namespace, db: Database) -> None:
    print()
    print(
        f"=== GET /api/links/ on {db.label} ({results[0].result.get('db_version', '')}) — "
        f"gunicorn {args.workers} worker(s) x {args.threads} thread(s), {args.concurrency} connections, "
        f"client: {client}, {args.seconds:g}s per scenario after {args.warmup:g}s warm-up"
        + (f", gunicorn args: {args.gunicorn_args}" if args.gunicorn_args else "")
        + " ==="
    )
    head = (
        f"{'scenario':<12} {'matches':>8} {'pages':>5} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'max ms':>8} {'requests':>9} {'errors':>7} {'KB/resp':>8} {'CPU/req':>8}"
    )
    print(head)
    print("-" * len(head))
    for sc in results:
        r = sc.result
        matches = f"{sc.count:,}" if sc.count is not None else "-"
        cpu = f"{r['server_cpu_ms_per_request']:.1f}ms" if r.get("server_cpu_ms_per_request") else "-"
        print(
            f"{sc.name:<12} {matches:>8} {len(sc.paths):>5} {r['rps']:>8.1f} {r['p50_ms']:>8.1f} "
            f"{r['p95_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['max_ms']:>8.1f} {r['requests']:>9,} "
            f"{r['errors']:>7} {r['bytes_per_response'] / 1024:>8.1f} {cpu:>8}"
        )
    print()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.load_child:
        return python_load_child(args.load_child)

    wrk = shutil.which("wrk")
    if args.client == "wrk" and not wrk:
        raise SystemExit("wrk is not installed (apt-get install -y wrk), or use --client python")
    client = "wrk" if (wrk and args.client != "python") else "python"

    signal.signal(signal.SIGTERM, _interrupt)  # clean up on SIGTERM as on Ctrl-C

    tmp = Path(tempfile.mkdtemp(prefix="linkhub-bench-"))
    db: Database | None = None
    proc = None
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        log(f"temp dir {tmp}")
        db = database_prepare(args.database_url, tmp)
        env = bench_env(tmp, db)
        seeded = setup_django_and_seed(args, env)

        port = free_port()
        proc = gunicorn_start(args, env, port, tmp / "gunicorn.log")
        workers = worker_pids(proc)
        log(f"gunicorn pid {proc.pid} (workers {workers}) on http://127.0.0.1:{port}/, client: {client}")
        scenarios = scenarios_build(args, port, seeded["token"])

        load_before = os.getloadavg()
        for sc in scenarios:
            log(f"{sc.name}: {args.warmup:g}s warm-up, then {args.seconds:g}s timed ({len(sc.paths)} paths)")

            def run(seconds: float, sc: Scenario = sc) -> dict:
                if client == "wrk":
                    return wrk_run(wrk, port, sc, seconds, args.concurrency, tmp)
                return python_run(port, sc, seconds, args.concurrency, args.max_requests)

            if args.warmup > 0:
                run(args.warmup)
            cpu0 = cpu_seconds([proc.pid, *workers])
            sc.result = run(args.seconds)
            cpu = cpu_seconds([proc.pid, *workers]) - cpu0
            if sc.result["requests"]:
                sc.result["server_cpu_ms_per_request"] = round(cpu * 1000 / sc.result["requests"], 2)
            sc.result["server_cpu_seconds"] = round(cpu, 2)
            sc.result["db_version"] = seeded["db_version"]
            log(
                f"{sc.name}: {sc.result['rps']:.1f} req/s, p50 {sc.result['p50_ms']:.1f} ms, "
                f"p95 {sc.result['p95_ms']:.1f} ms, errors {sc.result['errors']}"
            )
        load_after = os.getloadavg()
        gunicorn_stop(proc)
        proc = None

        print_table(scenarios, client, args, db)
        by_name = {sc.name: sc.result for sc in scenarios}
        ratios = {}
        if "list" in by_name:
            lst = by_name["list"]["rps"]
            if "healthz" in by_name and by_name["healthz"]["rps"]:
                ratios["list_vs_healthz"] = lst / by_name["healthz"]["rps"]
                print(
                    f"list / healthz ceiling:   {ratios['list_vs_healthz']:.3f}  ({lst:.1f} / "
                    f"{by_name['healthz']['rps']:.1f} req/s)"
                )
            ratios["list_vs_linkding"] = lst / LINKDING_RPS
            goal = TARGET_RATIO * LINKDING_RPS
            verdict = "meets" if lst >= goal else "misses"
            print(
                f"list / linkding (39 req/s): {ratios['list_vs_linkding']:.2f}x  — {verdict} the "
                f"{TARGET_RATIO:g}x aim ({goal:.0f} req/s)"
            )
            cpu_ms = by_name["list"].get("server_cpu_ms_per_request")
            if cpu_ms:
                # What the server could do with every CPU to itself (no client, no neighbours).
                ratios["list_cpu_bound_ceiling_rps"] = (os.cpu_count() or 1) * 1000 / cpu_ms
                print(
                    f"list CPU-bound ceiling:    ~{ratios['list_cpu_bound_ceiling_rps']:.0f} req/s "
                    f"({os.cpu_count()} CPUs x 1000 / {cpu_ms:.1f} ms server CPU per request)"
                )
        if "search_tag" in by_name:
            ratios["search_tag_vs_linkding"] = by_name["search_tag"]["rps"] / LINKDING_RPS
            print(f"search_tag / linkding:     {ratios['search_tag_vs_linkding']:.2f}x")
        print(
            f"load average before/after: {load_before[0]:.2f} / {load_after[0]:.2f} "
            f"(on {os.cpu_count()} CPUs; other work on the machine skews the numbers)"
        )

        profile = None
        if args.profile > 0:
            profile = profile_list(args, seeded["token"], stamp, db)

        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        out_path = RESULTS_DIR / f"api-{db.label}-{stamp}.json"
        import django
        import gunicorn
        import rest_framework

        report = {
            "benchmark": "GET /api/links/",
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "label": args.label,
            "database": {"vendor": db.vendor, "version": seeded["db_version"]},
            "client": client,
            "config": {
                "links": args.links,
                "other_links": args.other_links,
                "page_size": args.page_size,
                "workers": args.workers,
                "threads": args.threads,
                "gunicorn_args": args.gunicorn_args,
                "concurrency": args.concurrency,
                "seconds": args.seconds,
                "warmup": args.warmup,
                "q": args.q,
                "tag": args.tag,
                "content_text_kb": args.content_text_kb,
                "tag_pool": seeded["tag_pool"],
                "taggings": seeded["taggings"],
                "dataset": seeded["dataset"],
            },
            "machine": {
                "cpus": os.cpu_count(),
                "load_before": load_before,
                "load_after": load_after,
                "python": platform.python_version(),
                "platform": platform.platform(),
                "django": django.get_version(),
                "drf": rest_framework.VERSION,
                "gunicorn": gunicorn.__version__,
                "git_commit": _git_commit(),
            },
            "scenarios": {
                sc.name: {**sc.result, "matches": sc.count, "pages": len(sc.paths), "example": sc.paths[0]}
                for sc in scenarios
            },
            "ratios": ratios,
            "reference": {"linkding_rps": LINKDING_RPS, "target_rps": TARGET_RATIO * LINKDING_RPS},
            "profile": profile,
        }
        out_path.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"results written to {out_path.relative_to(ROOT)}")
        return 0
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        gunicorn_stop(proc)
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        if db is not None:
            if args.keep:
                log(f"kept: {tmp} and the database {db.url}")
            else:
                try:
                    database_drop(db)
                except Exception as exc:  # report, then still remove the temp dir
                    log(f"could not drop the bench database: {exc}")
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _git_commit() -> str:
    with contextlib.suppress(OSError):
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "linkhub"], cwd=ROOT, capture_output=True, text=True
        )
        return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    return ""


if __name__ == "__main__":
    sys.exit(main())
