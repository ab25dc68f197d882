"""The guard proxy, against a real local HTTP server and a real Chromium.

Every connection these tests make goes to 127.0.0.0/8. Addresses the guard must block (10.x,
169.254.169.254, names that resolve to them) are refused before any connect(), which the
``upstream`` spy at :func:`proxy.open_upstream` (the proxy's only way to connect) proves. Names go
to a fake resolver at ``guard.lookup``, so no test asks the real DNS either.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import nullcontext
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from snapshots.renderer import guard, proxy
from snapshots.renderer.proxy import ERROR_HEADER, GuardProxy

BLOCKED_IMAGE = "http://10.1.2.3/x.png"
PAGE_WITH_BLOCKED_IMAGE = f"""<!doctype html><html><head><title>Guarded page</title></head>
<body><h1>Hello through the guard</h1>
<img id="local" src="/pixel.gif"><img id="blocked" src="{BLOCKED_IMAGE}">
</body></html>""".encode()
PIXEL_GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)


class CountingServer(ThreadingHTTPServer):
    """An HTTP server that counts the TCP connections it accepts."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, SiteHandler)
        self.connections = 0

    def get_request(self):
        accepted = super().get_request()
        self.connections += 1
        return accepted

    def handle_error(self, request, client_address):
        # The proxy cutting a download short (too_large) is expected; anything else is not.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class SiteHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes, content_type: str = "text/plain", **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path == "/hello":
            self._send(200, b"hello", X_Seen_Host=self.headers.get("Host", ""))
        elif url.path == "/bytes":
            self._send(200, b"x" * int(query["n"][0]), "application/octet-stream")
        elif url.path == "/redirect":
            self._send(302, b"", Location=query["to"][0])
        elif url.path == "/page":
            self._send(200, PAGE_WITH_BLOCKED_IMAGE, "text/html; charset=utf-8")
        elif url.path == "/pixel.gif":
            self._send(200, PIXEL_GIF, "image/gif")
        else:
            self._send(404, b"not found")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        self._send(200, str(len(body)).encode())


class FakeDNS:
    """Answers from a table (one answer per call when given a list of lists); NXDOMAIN otherwise."""

    def __init__(self) -> None:
        self.answers: dict[str, list[list[str]]] = {}
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        if host not in self.answers:
            raise guard.ResolutionFailed(host, "no such name (fake DNS)")
        answers = self.answers[host]
        return list(answers.pop(0) if len(answers) > 1 else answers[0])


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch, settings) -> FakeDNS:
    settings.SNAPSHOT_ALLOWED_NETWORKS = []
    dns = FakeDNS()
    monkeypatch.setattr(guard, "lookup", dns)
    return dns


@pytest.fixture
def allow_loopback(settings) -> None:
    settings.SNAPSHOT_ALLOWED_NETWORKS = ["127.0.0.0/8"]


@pytest.fixture(scope="module")
def site() -> Iterator[CountingServer]:
    server = CountingServer(("127.0.0.1", 0))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def site_url(server: CountingServer, path: str = "/hello") -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


@pytest.fixture(scope="module")
def guard_proxy() -> Iterator[GuardProxy]:
    instance = GuardProxy(connect_timeout=2, idle_timeout=5)
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture
def session(guard_proxy) -> Iterator[proxy.ProxySession]:
    with guard_proxy.begin(max_bytes=10_000_000, label="test") as current:
        yield current


@pytest.fixture
def upstream(monkeypatch) -> list[tuple[str, int]]:
    """Every (ip, port) the proxy opens a connection to, through the real open_upstream."""
    opened: list[tuple[str, int]] = []
    real = proxy.open_upstream

    async def spy(ip: str, port: int):
        opened.append((ip, port))
        return await real(ip, port)

    monkeypatch.setattr(proxy, "open_upstream", spy)
    return opened


@pytest.fixture
def client(guard_proxy) -> Iterator[httpx.Client]:
    with httpx.Client(proxy=guard_proxy.url, timeout=5, trust_env=False) as http:
        yield http


class EchoServer:
    """A raw TCP echo server on a loopback address, counting connections."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sock = socket.create_server((host, port))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.close()


def raw_request(guard_proxy: GuardProxy, request: bytes) -> tuple[socket.socket, bytes]:
    """Send ``request`` to the proxy and read its response head."""
    sock = socket.create_connection(("127.0.0.1", guard_proxy.port), timeout=5)
    sock.sendall(request)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    return sock, head


def read_to_end(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def connect_tunnel(guard_proxy: GuardProxy, authority: str) -> tuple[socket.socket, bytes]:
    return raw_request(guard_proxy, f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode())


# --- working traffic ---------------------------------------------------------------------------


def test_plain_http_get_goes_through_the_proxy(allow_loopback, site, client, session, upstream):
    response = client.get(site_url(site))

    assert response.status_code == 200
    assert response.text == "hello"
    assert response.headers["connection"] == "close"
    assert response.headers["x-seen-host"] == f"127.0.0.1:{site.server_address[1]}"
    assert upstream == [("127.0.0.1", site.server_address[1])]
    assert session.requests == 1


def test_connect_tunnel_pipes_bytes_both_ways(allow_loopback, guard_proxy, echo, session, upstream):
    sock, head = connect_tunnel(guard_proxy, f"127.0.0.1:{echo.port}")
    with sock:
        assert head.startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"ping over the tunnel")
        assert sock.recv(100) == b"ping over the tunnel"

    assert upstream == [("127.0.0.1", echo.port)]
    assert session.bytes_sent == session.bytes_received == len(b"ping over the tunnel")


def test_each_client_connection_carries_one_request(allow_loopback, guard_proxy, site, session):
    url = site_url(site)
    sock, head = raw_request(
        guard_proxy, f"GET {url} HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n".encode()
    )
    with sock:
        assert head.startswith(b"HTTP/1.0 200") or head.startswith(b"HTTP/1.1 200")
        assert b"\r\nConnection: close\r\n" in head
        assert b"keep-alive" not in head.lower()
        rest = read_to_end(sock)  # returns only because the proxy closes the connection
    assert (head + rest).endswith(b"hello")


def test_request_body_is_forwarded_and_bytes_are_counted(allow_loopback, site, client, session):
    payload = b"p" * 5_000
    response = client.post(site_url(site, "/echo"), content=payload)
    assert response.text == "5000"
    download = client.get(site_url(site, "/bytes?n=10000"))
    assert len(download.content) == 10_000

    assert session.requests == 2
    # Wire bytes: bodies plus request and response heads, which are a few hundred bytes each.
    assert 5_000 < session.bytes_sent < 5_000 + 2_000
    assert 10_000 + 4 < session.bytes_received < 10_000 + 4 + 2_000


# --- refusals --------------------------------------------------------------------------------


def test_loopback_is_refused_when_not_allowed(site, guard_proxy, client, session, upstream):
    before = site.connections

    response = client.get(site_url(site))
    tunnel, head = connect_tunnel(guard_proxy, f"127.0.0.1:{site.server_address[1]}")
    tunnel.close()

    assert response.status_code == 403
    assert response.headers[ERROR_HEADER] == "blocked_address"
    assert head.startswith(b"HTTP/1.1 403 ")
    assert upstream == []
    assert site.connections == before
    assert session.blocked[0] == {
        "host": "127.0.0.1",
        "ip": "127.0.0.1",
        "reason": "127.0.0.1 is a loopback address",
    }
    assert session.event_for_host("127.0.0.1") == "blocked_address"


@pytest.mark.parametrize(
    ("target", "host", "ip"),
    [
        ("http://10.0.0.1/", "10.0.0.1", "10.0.0.1"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "169.254.169.254"),
        ("http://0xa000001/", "0xa000001", "10.0.0.1"),
        ("http://[::ffff:10.0.0.1]/", "[::ffff:10.0.0.1]", "::ffff:a00:1"),
        ("http://Metadata.Internal.test/", "metadata.internal.test", "169.254.169.254"),
    ],
)
def test_redirect_to_a_private_address_is_blocked_at_the_second_hop(
    settings, fake_dns, site, client, session, upstream, target, host, ip
):
    """Hosts are recorded in canonical form; event_for_host accepts any spelling of them."""
    settings.SNAPSHOT_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    fake_dns.answers["metadata.internal.test"] = [["169.254.169.254"]]

    response = client.get(site_url(site, f"/redirect?to={target}"), follow_redirects=True)

    assert [r.status_code for r in response.history] == [302]
    assert response.status_code == 403
    assert response.headers[ERROR_HEADER] == "blocked_address"
    assert upstream == [("127.0.0.1", site.server_address[1])], "no connection may be tried to the target"
    assert [(b["host"], b["ip"]) for b in session.blocked] == [(guard.normalise_host(host), ip)]
    assert session.event_for_host(host) == "blocked_address"
    assert session.event_for_host(target.split("/")[2]) == "blocked_address"
    assert session.requests == 2


def test_https_redirect_to_a_private_address_fails_the_tunnel(
    allow_loopback, site, client, session, upstream
):
    """httpx (like Chromium) sees only a failed CONNECT; the session says why."""
    with pytest.raises(httpx.ProxyError, match="403"):
        client.get(site_url(site, "/redirect?to=https://10.0.0.1/"), follow_redirects=True)

    assert upstream == [("127.0.0.1", site.server_address[1])]
    assert session.event_for_host("10.0.0.1") == "blocked_address"


def test_dns_rebinding_cannot_make_the_proxy_connect_to_a_blocked_ip(
    settings, fake_dns, site, client, session
):
    """rebind.test answers 127.0.0.1 (allowed) once, then 127.0.0.2 (not allowed)."""
    port = site.server_address[1]
    trap = EchoServer("127.0.0.2", port)  # all of 127.0.0.0/8 is loopback on Linux
    settings.SNAPSHOT_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    fake_dns.answers["rebind.test"] = [["127.0.0.1"], ["127.0.0.2"]]
    try:
        first = client.get(f"http://rebind.test:{port}/hello")
        second = client.get(f"http://rebind.test:{port}/hello")
    finally:
        trap.close()

    assert first.text == "hello", "the checked answer is the one connected to"
    assert second.status_code == 403
    assert fake_dns.calls == ["rebind.test", "rebind.test"], "one lookup per request, none at connect"
    assert trap.connections == 0
    assert session.blocked == [
        {"host": "rebind.test", "ip": "127.0.0.2", "reason": "127.0.0.2 is a loopback address"}
    ]


def test_too_large_stops_the_response_and_every_connection_of_the_session(
    allow_loopback, guard_proxy, site, echo, client
):
    with guard_proxy.begin(max_bytes=200_000) as session:
        tunnel, head = connect_tunnel(guard_proxy, f"127.0.0.1:{echo.port}")
        assert head.startswith(b"HTTP/1.1 200 ")
        received = 0
        with (
            pytest.raises(httpx.TransportError),
            client.stream("GET", site_url(site, "/bytes?n=5000000")) as big,
        ):
            for chunk in big.iter_bytes():
                received += len(chunk)
        tunnel.settimeout(2)
        assert tunnel.recv(10) == b"", "the other connection of the session is closed too"
        tunnel.close()
        again = client.get(site_url(site))

    assert session.too_large
    assert received < 200_000 + proxy.READ_CHUNK
    assert 200_000 < session.bytes_received <= 200_000 + proxy.READ_CHUNK
    assert again.status_code == 403
    assert again.headers[ERROR_HEADER] == "too_large"


def test_network_disabled_refuses_everything(allow_loopback, guard_proxy, site, client, upstream):
    before = site.connections
    with guard_proxy.begin(max_bytes=1_000_000, allow_network=False) as session:
        response = client.get(site_url(site))
        tunnel, head = connect_tunnel(guard_proxy, "example.com:443")
        tunnel.close()

    assert response.status_code == 403
    assert response.headers[ERROR_HEADER] == "network_disabled"
    assert head.startswith(b"HTTP/1.1 403 ")
    assert [b["reason"] for b in session.blocked] == ["network disabled", "network disabled"]
    assert session.event_for_host("example.com") == "blocked_address"
    assert upstream == []
    assert site.connections == before


def test_requests_outside_a_session_are_refused(allow_loopback, site, client, upstream):
    response = client.get(site_url(site))
    assert response.status_code == 403
    assert response.headers[ERROR_HEADER] == "no_session"
    assert upstream == []


def test_refused_connection_and_dns_failure_are_recorded(allow_loopback, client, session):
    closed = socket.create_server(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()

    refused = client.get(f"http://127.0.0.1:{closed_port}/")
    unknown = client.get("http://no-such-host.test/")

    assert (refused.status_code, refused.headers[ERROR_HEADER]) == (502, "refused")
    assert (unknown.status_code, unknown.headers[ERROR_HEADER]) == (502, "dns")
    assert session.refused == [{"host": "127.0.0.1", "port": closed_port}]
    assert session.dns_failures == ["no-such-host.test"]
    assert session.event_for_host("127.0.0.1") == "refused"
    assert session.event_for_host("NO-SUCH-HOST.test") == "dns"
    assert session.event_for_host("example.org") is None
    record = session.as_dict()
    assert record["refused"] == session.refused and record["dns_failures"] == ["no-such-host.test"]
    assert json.loads(json.dumps(record)) == record


def test_connect_timeout_answers_504(allow_loopback, monkeypatch, site):
    async def never_connects(ip: str, port: int):
        await asyncio.sleep(30)

    monkeypatch.setattr(proxy, "open_upstream", never_connects)
    slow = GuardProxy(connect_timeout=0.2)
    slow.start()
    try:
        with slow.begin(max_bytes=1_000) as session, httpx.Client(proxy=slow.url, trust_env=False) as http:
            response = http.get(site_url(site))
    finally:
        slow.stop()

    assert (response.status_code, response.headers[ERROR_HEADER]) == (504, "timeout")
    assert session.timeouts == [{"host": "127.0.0.1", "port": site.server_address[1], "stage": "connect"}]
    assert session.event_for_host("127.0.0.1") == "timeout"


def test_idle_tunnel_is_closed(allow_loopback, echo):
    quick = GuardProxy(idle_timeout=0.3)
    quick.start()
    try:
        with quick.begin(max_bytes=1_000):
            sock, head = connect_tunnel(quick, f"127.0.0.1:{echo.port}")
            with sock:
                assert head.startswith(b"HTTP/1.1 200 ")
                started = time.monotonic()
                assert sock.recv(10) == b""
                assert time.monotonic() - started < 3
    finally:
        quick.stop()


def test_websocket_upgrade_over_plain_http_is_refused(allow_loopback, guard_proxy, site, session, upstream):
    url = site_url(site, "/socket")
    request = f"GET {url} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    sock, head = raw_request(guard_proxy, request.encode())
    sock.close()
    assert head.startswith(b"HTTP/1.1 403 ")
    assert b"upgrade_refused" in head
    assert upstream == []


@pytest.mark.parametrize(
    "request_bytes",
    [b"GET /relative HTTP/1.1\r\n\r\n", b"NONSENSE\r\n\r\n", b"CONNECT nohost HTTP/1.1\r\n\r\n"],
)
def test_malformed_requests_get_400(guard_proxy, session, request_bytes):
    sock, head = raw_request(guard_proxy, request_bytes)
    sock.close()
    assert head.startswith(b"HTTP/1.1 400 ")


def test_ending_a_session_closes_its_tunnels(allow_loopback, guard_proxy, echo):
    with guard_proxy.begin(max_bytes=1_000_000) as session:
        sock, head = connect_tunnel(guard_proxy, f"127.0.0.1:{echo.port}")
        assert head.startswith(b"HTTP/1.1 200 ")
        assert guard_proxy.current_or_none() is session
    with sock:
        sock.settimeout(2)
        assert sock.recv(10) == b""
    assert session.closed
    assert guard_proxy.current_or_none() is None
    with pytest.raises(RuntimeError):
        guard_proxy.end()


def test_shared_proxy_is_one_per_process():
    first = proxy.shared_proxy()
    assert proxy.shared_proxy() is first
    assert first.url == f"http://127.0.0.1:{first.port}"
    first.stop()
    replacement = proxy.shared_proxy()
    assert replacement is not first and replacement.running
    replacement.stop()


# --- a real Chromium -------------------------------------------------------------------------


@pytest.mark.browser
def test_chromium_traffic_is_guarded(settings, guard_proxy, site, playwright_session):
    """The launch flags the renderer uses send every request, loopback included, to the proxy."""
    from playwright.sync_api import Error

    from snapshots.renderer.browser import chromium_path

    executable = chromium_path()  # the renderer's own choice (None: Playwright's download)
    args = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-quic",
        "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
        f"--proxy-server={guard_proxy.url}",
        "--proxy-bypass-list=<-loopback>",
    ]
    with nullcontext(playwright_session) as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=args)
        try:
            page = browser.new_page()
            settings.SNAPSHOT_ALLOWED_NETWORKS = ["127.0.0.0/8"]
            with guard_proxy.begin(max_bytes=5_000_000) as allowed:
                response = page.goto(site_url(site, "/page"), wait_until="load")
                assert response is not None and response.ok
                assert page.locator("h1").inner_text() == "Hello through the guard"
                assert page.evaluate("document.getElementById('local').naturalWidth") == 1

            assert allowed.event_for_host("10.1.2.3") == "blocked_address"
            assert allowed.blocked == [
                {"host": "10.1.2.3", "ip": "10.1.2.3", "reason": "10.1.2.3 is a private address"}
            ]

            settings.SNAPSHOT_ALLOWED_NETWORKS = []
            before = site.connections
            with guard_proxy.begin(max_bytes=5_000_000) as refused:
                plain = page.goto(site_url(site, "/hello?second"))
                assert plain is not None and plain.status == 403
                assert plain.headers[ERROR_HEADER.lower()] == "blocked_address"
                with pytest.raises(Error, match="ERR_TUNNEL_CONNECTION_FAILED"):
                    page.goto(f"https://127.0.0.1:{site.server_address[1]}/")
            assert site.connections == before
            assert refused.event_for_host("127.0.0.1") == "blocked_address"
        finally:
            browser.close()
