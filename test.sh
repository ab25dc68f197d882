#!/usr/bin/env bash
# Run the tests: installs what they need, then runs pytest (extra arguments go to pytest).
# With DATABASE_URL and REDIS_URL set, tests run against those servers; otherwise against
# SQLite and the embedded Redis.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/bootstrap.sh dev
exec .venv/bin/python -m pytest "$@"
