"""Tag suggestions for a new user from day one: she signs up (consent ``own``) on a LinkHub with
no shared model, saves and tags pages of a local site, and sees zero-shot suggestions, then her
personal model's once she has tagged ten links, with no command run; accepting one changes the
next link's suggestions within seconds.

Real workers do the work, as deployed: one renders the snapshots, one (the ``ml`` queue) embeds
links with the real sentence encoder, scores them, and trains and updates the personal model.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import Page, expect

from linkhub.accounts.models import Profile
from linkhub.celery import app as celery_app
from linkhub.celery import worker_argv
from linkhub.links.models import TagDecision
from mlops.models import Kind, PersonalModelState, Policy, Suggestion, TrainingRun
from snapshots.tests.worker_fixture import app_env, wait_for

from .helpers import PASSWORD, flash

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.snapshots,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

# path: (title, description). Three clear topics; each page says what it is about.
PAGES = {
    "/python/decorators": ("Python decorators", "Learn Python programming: a Python tutorial on decorators."),
    "/python/type-hints": ("Python type hints", "Python programming: type hints and mypy for Python code."),
    "/python/asyncio": ("Python asyncio", "Python programming: asyncio, coroutines and the event loop."),
    "/cooking/risotto": ("Risotto", "Cooking recipes: how to cook a creamy risotto with rice and stock."),
    "/cooking/sourdough": ("Sourdough bread", "Cooking recipes: baking sourdough bread at home."),
    "/cooking/tomato-soup": ("Tomato soup", "Cooking recipes: a simple tomato soup to cook in the kitchen."),
    "/astronomy/jupiter": (
        "Jupiter's moons",
        "Astronomy: observing the moons of Jupiter, planets in the night sky.",
    ),
    "/astronomy/stars": ("The life of stars", "Astronomy: how stars are born, shine and die, for beginners."),
    "/astronomy/eclipses": (
        "Solar eclipses",
        "Astronomy: solar eclipses, the Sun, the Moon and the planets.",
    ),
    "/astronomy/milky-way": (
        "The Milky Way",
        "Astronomy for beginners: stars, planets and galaxies in the night sky.",
    ),
    "/astronomy/comets": ("Comets", "Astronomy: comets, planets and stars crossing the night sky."),
    "/astronomy/star-clusters": (
        "Star clusters",
        "Astronomy: star clusters and planets to observe in the night sky.",
    ),
}
# Each section of the site says what it is about under every page.
SECTIONS = {
    "python": "More Python programming tutorials for Python developers, with examples.",
    "cooking": "More cooking recipes for the home kitchen, step by step.",
    "astronomy": "More astronomy guides to the stars and planets of the night sky.",
}
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="description" content="{description}"></head>
<body><article><h1>{title}</h1><p>{description}</p><p>{section}</p></article></body></html>"""


class TopicHandler(BaseHTTPRequestHandler):
    def log_message(self, format, *args):  # quiet
        pass

    def do_GET(self):
        page = PAGES.get(self.path)
        section = SECTIONS.get(self.path.split("/")[1])
        html = PAGE.format(title=page[0], description=page[1], section=section) if page else "Not found"
        body = html.encode()
        self.send_response(200 if page else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def topic_site():
    """The local site: ``topic_site("/python/asyncio")`` is a page's URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), TopicHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield lambda path: f"http://127.0.0.1:{server.server_address[1]}{path}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def start_ml_worker(redis_server, settings, tmp_path):
    """A real worker on the ``ml`` queue (the ``start_worker`` fixture's is on ``snapshots``)."""
    procs: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        # Left over from other runs: scoring tasks (a new link's fallback waits two minutes) for
        # link ids that may be this test's.
        with celery_app.connection_for_write() as conn:
            conn.default_channel.queue_purge("ml")
        proc = subprocess.Popen(  # noqa: S603 (our own argv)
            worker_argv("ml", name="ml@%h", without_peers=True),
            env=app_env(settings, tmp_path / "ml-worker"),
            stdout=open(tmp_path / "ml-worker.log", "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=str(django_settings.BASE_DIR),
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def save_link(page: Page, url: str, tags: str = "") -> int:
    """Save a link with the form, wait for its snapshot to bring the page's text; its id."""
    page.get_by_test_id("nav-add").click()
    form = page.locator("main form")
    form.get_by_label("URL").fill(url)
    form.get_by_label("Tags").fill(tags)
    page.get_by_test_id("save-link").click()
    expect(flash(page)).to_have_text("Link saved.")
    expect(page.get_by_test_id("snapshot-status")).to_have_text("captured", timeout=60_000)
    saved = re.search(r"/links/(\d+)/", page.url)
    assert saved, page.url
    return int(saved.group(1))


def chip_once_scored(page: Page, tag: str, source: str, timeout: float = 60):
    """The link page's chip suggesting ``tag`` from ``source``, reloading until the ml worker has
    scored the link (the page does not poll for suggestions)."""
    chip = page.locator("article header").locator(f'[data-testid=suggestion][data-tag="{tag}"]')

    def scored() -> bool:
        page.reload()
        return chip.count() > 0

    wait_for(scored, timeout, f"a {source} suggestion of {tag!r} on {page.url}")
    expect(chip).to_have_attribute("data-source", source)
    return chip


def test_a_new_user_sees_zero_shot_then_personal_suggestions_that_learn_from_her(
    page: Page, topic_site, start_worker, start_ml_worker, settings
):
    settings.SNAPSHOT_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    # Suggestions stay suggestions here (1.0: nothing is applied on its own): on these clean
    # one-topic pages her personal model is sure enough of "astronomy" to apply it itself at the
    # default threshold (0.9), which other tests cover.
    Policy.objects.update_or_create(pk=1, defaults={"auto_apply_threshold": 1.0})
    start_worker(concurrency=2)
    start_ml_worker()

    # Sign up, keeping the preselected consent: her data trains her own model only.
    page.goto("/account/signup/")
    form = page.locator("main form")
    form.get_by_label("Username").fill("carol")
    form.get_by_label("Password", exact=True).fill(PASSWORD)
    form.get_by_label("Password confirmation").fill(PASSWORD)
    expect(form.get_by_role("radio", name=re.compile(r"^Own:"))).to_be_checked()
    form.get_by_role("button", name="Sign up").click()
    page.wait_for_url("**/links/new/")
    assert Profile.objects.get(user__username="carol").training_consent == "own"

    # One tagged page per topic.
    save_link(page, topic_site("/python/decorators"), "python")
    save_link(page, topic_site("/cooking/risotto"), "cooking")
    save_link(page, topic_site("/astronomy/jupiter"), "astronomy")

    # A new page about astronomy: her tag's name matches it (zero-shot), no model trained yet.
    milky_way = save_link(page, topic_site("/astronomy/milky-way"))
    chip = chip_once_scored(page, "astronomy", "zero-shot")
    expect(chip.get_by_test_id("suggestion-source")).to_have_text("zero-shot")
    expect(chip).to_have_attribute("title", re.compile(r"Suggested by the zero-shot v1 model"))
    expect(page.locator('article header [data-source="personal"]')).to_have_count(0)
    chip.get_by_role("button", name="Accept astronomy").click()
    expect(page.locator("article header a.chip")).to_have_text(["#astronomy"])
    assert TagDecision.objects.filter(link_id=milky_way, tag_name="astronomy", action="accept").exists()

    # Six more tagged pages: ten tagged links, the policy's threshold for a personal model.
    for path, tag in (
        ("/python/type-hints", "python"),
        ("/cooking/sourdough", "cooking"),
        ("/astronomy/stars", "astronomy"),
        ("/python/asyncio", "python"),
        ("/cooking/tomato-soup", "cooking"),
        ("/astronomy/eclipses", "astronomy"),
    ):
        save_link(page, topic_site(path), tag)

    # The next astronomy page gets her personal model's suggestion; nobody ran a command.
    comets = save_link(page, topic_site("/astronomy/comets"))
    chip = chip_once_scored(page, "astronomy", "personal")
    expect(chip.get_by_test_id("suggestion-source")).to_have_text("personal model")
    why = re.search(r"like your (\d+) links tagged “astronomy”", chip.get_attribute("title"))
    assert why, chip.get_attribute("title")
    state = PersonalModelState.objects.select_related("version").get(user__username="carol")
    assert state.version.kind == Kind.PERSONAL
    full = TrainingRun.objects.get(owner__username="carol", kind=TrainingRun.Kind.FULL)
    assert (full.trigger, full.status) == ("threshold", "succeeded")

    # Accepting it updates the live model within seconds.
    chip.get_by_role("button", name="Accept astronomy").click()
    accepted_at = time.monotonic()
    expect(page.locator("article header a.chip")).to_have_text(["#astronomy"])
    decision = TagDecision.objects.get(link_id=comets, tag_name="astronomy", action="accept")
    assert Suggestion.objects.filter(decision_id=decision.pk, source="personal", status="accepted").exists()

    def updated():
        now = PersonalModelState.objects.get(user__username="carol")
        return now if now.updates > state.updates and now.revision > state.revision else None

    now = wait_for(updated, 15, "the personal model's incremental update")
    assert TrainingRun.objects.filter(
        owner__username="carol",
        kind=TrainingRun.Kind.INCREMENTAL,
        reason=f"accept 'astronomy' on link {comets}",
    ).exists()

    # The next similar page is scored by the updated model: one more link behind "astronomy".
    save_link(page, topic_site("/astronomy/star-clusters"))
    chip = chip_once_scored(page, "astronomy", "personal")
    expect(chip).to_have_attribute(
        "title", re.compile(f"like your {int(why.group(1)) + 1} links tagged “astronomy”")
    )
    assert time.monotonic() - accepted_at < 45
    assert PersonalModelState.objects.get(user__username="carol").revision >= now.revision
