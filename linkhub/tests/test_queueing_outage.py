"""linkhub.queueing while the broker is away: a failure is reported, and the calls right after it
try the broker once each and give up (with retry=False, kombu still made three attempts with
sleeps in between: about 0.4 s added to every save for as long as the broker was down)."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from celery import Celery

from linkhub import queueing


class BrokenBroker:
    """A TCP port that accepts connections and closes them at once, counting them."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def broken_broker():
    broker = BrokenBroker()
    yield broker
    broker.close()


@pytest.fixture
def fresh_state(monkeypatch):
    """No failure remembered from another test on this thread, and none left for the next."""
    monkeypatch.setattr(queueing._state, "failed_at", -1e9, raising=False)


def test_after_a_failure_the_next_saves_try_the_broker_once(broken_broker, fresh_state, monkeypatch):
    app = Celery("queueing-test", broker=f"redis://127.0.0.1:{broken_broker.port}/0", set_as_current=False)
    app.conf.broker_connection_timeout = 2

    @app.task(name="tests.noop")
    def noop() -> None:
        pass

    monkeypatch.setattr(queueing, "_task", lambda name: {"tests.noop": noop}[name])
    failures = queueing.enqueue_failures()
    try:
        assert queueing.enqueue("tests.noop") is False  # tried with the short retry policy, and reported
        retries = 1 + queueing.PUBLISH_RETRY["max_retries"]
        assert broken_broker.accepted == retries
        assert queueing.enqueue_failures() == failures + 1

        for n in range(1, 6):  # the calls right after a failure connect once each, and give up
            assert queueing.enqueue("tests.noop") is False
            assert broken_broker.accepted == retries + n

        # A few seconds later the retry policy applies again.
        monkeypatch.setattr(queueing._state, "failed_at", time.monotonic() - queueing.QUIET_SECONDS - 1)
        assert queueing.enqueue("tests.noop") is False
        assert broken_broker.accepted == retries + 5 + retries
    finally:
        app.close()
