"""Test fixtures shared by every app: users, API clients, Redis, Celery and storage."""

from __future__ import annotations

import pytest

pytest_plugins = ["snapshots.tests.fixture_site", "snapshots.tests.worker_fixture"]


@pytest.fixture(scope="session")
def redis_server():
    """The Redis the tests use: REDIS_URL's server, or the embedded one started here."""
    from django.conf import settings

    from linkhub.embedded import start_embedded_redis

    proc = None
    if settings.EMBEDDED_REDIS:
        proc = start_embedded_redis(settings.EMBEDDED_REDIS_SOCKET)
    yield settings.REDIS_CLIENT_URL
    if proc is not None:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(autouse=True)
def _isolated_storage(settings, tmp_path):
    """Uploaded and generated files go to a fresh folder per test; passwords hash fast."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_snapshots_unless_asked(settings, request):
    """Saving a link queues a snapshot; tests about snapshots turn that back on themselves."""
    settings.SNAPSHOT_ON_SAVE = request.node.get_closest_marker("snapshots") is not None


@pytest.fixture(autouse=True)
def _celery_eager(request):
    """Tasks run inline, unless a test starts a real worker (marker ``integration``)."""
    from linkhub.celery import app

    eager = request.node.get_closest_marker("integration") is None
    old = app.conf.task_always_eager
    app.conf.task_always_eager = eager
    yield
    app.conf.task_always_eager = old


@pytest.fixture(autouse=True)
def _locmem_cache(settings, request):
    """Unit tests need no Redis for the cache (throttles); integration tests use the real one."""
    if request.node.get_closest_marker("integration") is None:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@pytest.fixture
def make_user(db):
    from linkhub.accounts import services

    def make(username: str = "alice", password: str = "correct horse battery", **kwargs):
        return services.user_signup(username=username, password=password, **kwargs)

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob")


def _api_client(user):
    from rest_framework.test import APIClient

    from linkhub.accounts.services import api_token_create

    client = APIClient()
    _, key = api_token_create(user=user, name="tests")
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    client.user = user
    return client


@pytest.fixture
def api_client_for(db):
    """An API client authenticated with a fresh token of the given user."""
    return _api_client


@pytest.fixture
def alice_api(alice):
    return _api_client(alice)


@pytest.fixture
def bob_api(bob):
    return _api_client(bob)


@pytest.fixture
def make_link(db):
    from linkhub.links import services

    def make(owner, url: str = "https://example.com/", **kwargs):
        link, _ = services.link_create(owner=owner, url=url, **kwargs)
        return link

    return make


@pytest.fixture(scope="session")
def playwright_session():
    """One Playwright for the whole run, on the main thread.

    Playwright's sync API keeps an event loop on the thread that started it until it stops; a
    second ``sync_playwright()`` on the same thread then fails. So every test that drives a
    browser from the test thread shares this one (the renderer runs on its own thread)."""
    import os

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    yield pw
    pw.stop()
