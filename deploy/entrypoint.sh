#!/bin/sh
# Entry point of the LinkHub image, for web, worker and beat alike: wait until the database
# answers, apply migrations when LINKHUB_MIGRATE=1, then run the given command.
#
# Only the web service sets LINKHUB_MIGRATE=1, so that two containers never migrate at once;
# the worker and beat wait for web to be healthy (docker-compose.yml), which is after it migrated.
set -eu

# prometheus_client's multiprocess files (linkhub/metrics.py): each start of the container counts
# from zero, without the files of the processes of its previous run.
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"; fi

python - <<'PY'
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linkhub.settings")
import django

django.setup()
from django.db import connection
from django.db.utils import OperationalError

TRIES, PAUSE = 30, 2  # about a minute: long enough for PostgreSQL to start, short enough to notice
for attempt in range(1, TRIES + 1):
    try:
        connection.ensure_connection()
    except OperationalError as exc:
        print("entrypoint: database not ready (try %d of %d): %s" % (attempt, TRIES, exc), file=sys.stderr, flush=True)
        time.sleep(PAUSE)
    else:
        connection.close()
        sys.exit(0)
print("entrypoint: the database did not answer; giving up.", file=sys.stderr, flush=True)
sys.exit(1)
PY

if [ "${LINKHUB_MIGRATE:-0}" = "1" ]; then
  echo "entrypoint: applying migrations"
  python /app/manage.py migrate --noinput
fi

exec "$@"
