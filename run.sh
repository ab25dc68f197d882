#!/usr/bin/env bash
# Run LinkHub: installs what it needs, then starts Redis, a Celery worker and beat, and the
# web server, and prints the URL. Uses SQLite and the embedded Redis unless DATABASE_URL and
# REDIS_URL are set. Options: --host, --port, --web-workers, --worker-concurrency.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/bootstrap.sh runtime
exec .venv/bin/python -m linkhub.launcher "$@"
