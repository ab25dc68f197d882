#!/usr/bin/env bash
# Run the tests: installs what they need, then runs pytest (extra arguments go to pytest).
# With DATABASE_URL and REDIS_URL set, tests run against those servers; otherwise against
# SQLite and the embedded Redis.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/bootstrap.sh dev
# The labelled dataset some tests train on: the shared copy next to the repository, else ours.
if [ -z "${LINKHUB_DATASET:-}" ]; then
  for f in ../shared/datasets/awesome-selfhosted.jsonl mlops/tests/data/awesome-selfhosted.jsonl; do
    if [ -f "$f" ]; then export LINKHUB_DATASET="$(cd "$(dirname "$f")" && pwd)/$(basename "$f")"; break; fi
  done
fi
exec .venv/bin/python -m pytest "$@"
