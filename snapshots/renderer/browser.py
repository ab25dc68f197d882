"""One Chromium per worker process, reused across snapshots, behind the guard proxy.

Each snapshot gets a fresh browser context (no cookies, cache or storage shared between
snapshots). The browser is replaced after ``SNAPSHOT_BROWSER_RECYCLE`` snapshots, and at once
after a crash or a timeout, so a leak or a wedged renderer cannot outlive a few pages.

Playwright runs on a thread of its own (``RENDERER``): its sync API keeps an event loop on the
thread that uses it, and Django's database connections must stay on the worker's main thread,
which meanwhile sends heartbeats and enforces the time limit (killing the browser if need be).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

import psutil
from django.conf import settings
from playwright.sync_api import Browser, Playwright, sync_playwright

from .proxy import GuardProxy

logger = logging.getLogger(__name__)

BASE_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--disable-sync",
    "--mute-audio",
    "--hide-scrollbars",
    # Every request goes through the guard proxy, loopback included; nothing leaks around it.
    "--disable-quic",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--proxy-bypass-list=<-loopback>",
    # Chromium's own services would otherwise call home through the proxy.
    "--disable-client-side-phishing-detection",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-breakpad",
    "--no-pings",
    "--disable-features=OptimizationHints,MediaRouter,DialMediaRouteProvider,Translate,"
    "AutofillServerCommunication,CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions,"
    "PrivacySandboxSettings4,SigninIntercept,DestroyProfileOnBrowserClose",
]


def chromium_path() -> str | None:
    """CHROMIUM_PATH, else a system Chromium, else None: Playwright's own download.

    Debian's ``chromium-headless-shell`` comes first: the same engine without the desktop
    browser's services, and about 1.5 times the pages per minute on two cores."""
    path = os.environ.get("CHROMIUM_PATH") or settings.CHROMIUM_PATH
    if path and os.path.exists(path):
        return path
    for name in ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class BrowserPool:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._proxy: GuardProxy | None = None
        self._uses = 0
        self.launches = 0
        self.user_agent: str | None = None
        self._pid = os.getpid()

    def _forget_parent(self) -> None:
        if self._pid != os.getpid():
            # Inherited through a fork: those objects belong to the parent; start afresh here.
            self._playwright = self._browser = self._proxy = None
            self._uses, self._pid = 0, os.getpid()

    @property
    def proxy(self) -> GuardProxy:
        self._forget_parent()
        if self._proxy is None:
            self._proxy = GuardProxy()
            self._proxy.start()
        return self._proxy

    def browser(self) -> Browser:
        self._forget_parent()
        recycle = settings.SNAPSHOT_BROWSER_RECYCLE
        if self._browser is not None and (not self._browser.is_connected() or self._uses >= recycle):
            logger.info("recycling the browser after %s snapshots", self._uses)
            self._close_browser()
        if self._browser is None:
            if self._playwright is None:
                self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(
                executable_path=chromium_path(),
                headless=True,
                args=[*BASE_ARGS, f"--proxy-server={self.proxy.url}"],
            )
            self._uses = 0
            self.launches += 1
            self.user_agent = self._user_agent(self._browser)
            logger.info("started Chromium %s (pid %s)", self._browser.version, os.getpid())
        self._uses += 1
        return self._browser

    @staticmethod
    def _user_agent(browser: Browser) -> str | None:
        """Chromium's own user agent without "Headless", which many sites turn away."""
        try:
            session = browser.new_browser_cdp_session()
            agent = session.send("Browser.getVersion")["userAgent"]
            session.detach()
            return agent.replace("HeadlessChrome", "Chrome")
        except Exception as exc:  # the default agent still works
            logger.warning("could not read the user agent: %s", exc)
            return None

    def _close_browser(self) -> None:
        browser, self._browser = self._browser, None
        if browser is not None:
            try:
                browser.close()
            except Exception as exc:  # a crashed browser may not close cleanly; it is gone anyway
                logger.warning("closing the browser failed: %s", exc)

    def reset(self) -> None:
        """After a crash or a timeout: drop the browser and the Playwright driver."""
        self._close_browser()
        playwright, self._playwright = self._playwright, None
        if playwright is not None:
            try:
                playwright.stop()
            except Exception as exc:  # the driver may already be gone
                logger.warning("stopping Playwright failed: %s", exc)

    def close(self) -> None:
        self.reset()
        if self._proxy is not None:
            self._proxy.stop()
            self._proxy = None

    def forget(self) -> None:
        """After the browser was killed from outside: drop the dead objects without touching them."""
        self._playwright = self._browser = None
        self._uses = 0
        self.user_agent = None


POOL = BrowserPool()

T = TypeVar("T")


HEARTBEAT_SECONDS = 5.0  # how often a render's task marks its row alive


class RenderTimeout(Exception):
    pass


class RenderThread:
    """Runs render jobs on one long-lived thread; the caller waits, sends heartbeats, and on a
    timeout kills the browser's processes and starts over with a fresh thread."""

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._pid = os.getpid()

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None or self._pid != os.getpid():
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="renderer")
            self._pid = os.getpid()
        return self._executor

    def run(
        self,
        fn: Callable[..., T],
        *args: Any,
        timeout: float,
        heartbeat: Callable[[], None] = lambda: None,
        heartbeat_every: float = HEARTBEAT_SECONDS,
        **kwargs: Any,
    ) -> T:
        future: Future[T] = self._pool().submit(fn, *args, **kwargs)
        deadline = time.monotonic() + timeout
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RenderTimeout(f"the capture took longer than {timeout:.0f} seconds")
                try:
                    return future.result(timeout=min(heartbeat_every, remaining))
                except FutureTimeout:
                    heartbeat()
        except BaseException:  # our timeout, Celery's soft time limit, or a shutdown
            if not future.done():
                self.kill()
            raise

    def kill(self) -> None:
        """Kill the browser and the Playwright driver (the render thread may be stuck inside
        them), and let the next job start a new thread with a new browser."""
        for child in psutil.Process().children(recursive=True):
            try:
                name = child.name().lower()
                if any(k in name for k in ("chrom", "node", "playwright", "headless_shell")):
                    child.kill()
            except psutil.Error:
                pass
        POOL.forget()
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        logger.warning("killed the browser after a render timeout")


RENDERER = RenderThread()
