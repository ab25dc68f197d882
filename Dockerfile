# One image for every LinkHub process: the web server (default command), the Celery worker and
# Celery beat (docker-compose.yml sets their commands). See docs/operations.md.
FROM python:3.11-slim-bookworm

# Data (SQLite when there is no DATABASE_URL, uploads, artifacts) lives in /data, a volume.
# Static files live in the image instead: a volume keeps the files of the first image it saw,
# and an upgraded image needs its own manifest of hashed file names.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CHROMIUM_PATH=/usr/bin/chromium-headless-shell \
    LINKHUB_VAR_DIR=/data \
    STATIC_ROOT=/app/staticfiles

# Debian's Chromium for snapshots, and fonts so that rendered pages have glyphs to draw with.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        chromium-headless-shell \
        fonts-liberation \
        fonts-noto-color-emoji \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Requirements first, so that a code change does not reinstall every package.
COPY requirements.txt .
# torch from PyTorch's CPU index first: PyPI's default torch wheel for Linux is a CUDA build of
# several GB. requirements.txt then finds torch==2.13.0 already installed.
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
 && pip install --no-cache-dir -r requirements.txt

COPY . .

# settings.py needs a SECRET_KEY to load; this one exists only for this build step and is not
# kept in the image. The real key comes from the environment at run time.
# The user's home is outside /data so that what programs keep there (browser profiles, caches,
# gunicorn's control socket) stays out of the data volume and its backups.
RUN SECRET_KEY=collectstatic-only-not-a-secret python manage.py collectstatic --noinput \
    && chmod 0755 deploy/entrypoint.sh \
    && groupadd --system --gid 10001 linkhub \
    && useradd --system --uid 10001 --gid linkhub --create-home --home-dir /home/linkhub \
        --shell /usr/sbin/nologin linkhub \
    && mkdir -p /data \
    && chown linkhub:linkhub /data

USER linkhub
EXPOSE 8000

ENTRYPOINT ["/app/deploy/entrypoint.sh"]
# The heartbeat file on /dev/shm: on an overlay filesystem a slow disk can make gunicorn think
# a worker hung.
CMD ["gunicorn", "linkhub.wsgi:application", "-c", "python:linkhub.gunicorn_conf", \
     "--bind", "0.0.0.0:8000", \
     "--workers", "2", \
     "--timeout", "60", \
     "--worker-tmp-dir", "/dev/shm", \
     "--access-logfile", "-"]
