"""The Celery application. Queues: ``snapshots``, ``ml`` and ``default`` (see settings)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linkhub.settings")

app = Celery("linkhub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
