"""WSGI entry point (gunicorn linkhub.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linkhub.settings")
application = get_wsgi_application()
