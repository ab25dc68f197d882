"""gunicorn settings shared by the run command and the Docker image: gunicorn -c python:linkhub.gunicorn_conf

The app is loaded once in the master, and everything it allocated at start-up is moved out of
the garbage collector's sight before the workers fork. A list page builds hundreds of objects,
and without this every full collection would walk the whole of Django again (about a quarter of
a list request's CPU time, measured with bench/api.py).
"""

from __future__ import annotations

import gc
import os

preload_app = True


def pre_fork(server, worker):
    gc.collect()
    gc.freeze()


def post_fork(server, worker):
    # Fewer, larger young-generation collections: requests allocate in bursts and then free it all.
    gc.set_threshold(50_000, 20, 20)


def child_exit(server, worker):
    # Multiprocess metrics (linkhub/metrics.py): a worker's live gauges go with it.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # A library, imported here only: prometheus_client picks its mode when first imported,
        # which must be after the settings have prepared the environment, not with this file.
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
