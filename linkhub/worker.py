"""Start a Celery worker of one of the roles in linkhub.celery.WORKER_ROLES.

    python -m linkhub.worker snapshots [--concurrency N] [--name NODE] [--loglevel LEVEL]
    python -m linkhub.worker ml

The Compose services run this, so that their workers have the command line the run command and
the tests give theirs (linkhub.celery.worker_argv). Celery replaces this process: signals from
Docker reach the worker itself.
"""

from __future__ import annotations

import argparse
import os

from linkhub.celery import WORKER_ROLES, worker_argv


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("role", choices=sorted(WORKER_ROLES))
    parser.add_argument("--concurrency", type=int, help="processes (default: the role's)")
    parser.add_argument("--name", help="node name (default: Celery's, celery@<host>)")
    parser.add_argument("--loglevel", default="INFO")
    args = parser.parse_args(argv)
    command = worker_argv(args.role, concurrency=args.concurrency, name=args.name, loglevel=args.loglevel)
    os.execv(command[0], command)  # noqa: S606 (our own argv, no shell involved)


if __name__ == "__main__":
    main()
