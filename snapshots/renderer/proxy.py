"""The guard proxy: an HTTP forward proxy through which the renderer reaches the network.

Chromium is launched with ``--proxy-server=<GuardProxy.url> --proxy-bypass-list=<-loopback>`` (and
QUIC and non-proxied WebRTC UDP disabled), so the saved URL, every redirect and every subresource
arrives here, as a ``CONNECT host:port`` tunnel for https and as an absolute-form request for plain
http. For each request the proxy resolves the host once through :func:`guard.check_host` and opens
the upstream connection to one of exactly those IPs (:func:`open_upstream`), so a DNS answer that
changes between check and connect (rebinding) cannot lead anywhere unchecked.

Policies:

- Ports: any port. The IP check is what keeps the renderer off internal hosts, and Chromium already
  refuses its own list of unsafe ports (25, 6000, ...) before asking the proxy.
- Plain http: one request per client connection (``Connection: close`` both ways), the response
  streamed through unchanged apart from its hop-by-hop headers. Upgrades (websockets over ws://)
  are refused with 403; ``wss://`` goes through CONNECT like any https.
- Refusals answer with 403 (blocked), 502 (DNS failure, refused connection) or 504 (timeout) and a
  header ``X-LinkHub-Proxy-Error: <kind>``, then close. Kinds: ``blocked_address``,
  ``network_disabled``, ``too_large``, ``no_session``, ``dns``, ``refused``, ``timeout``,
  ``bad_gateway``, ``upgrade_refused``, ``bad_request``.
- Accounting is per session (``begin()`` ... ``end()``); a worker process renders one snapshot at a
  time. Bytes are counted on the wire between proxy and upstream: ``bytes_received`` is everything
  read from upstream sockets (response heads and bodies, TLS records inside tunnels),
  ``bytes_sent`` everything written to them. Requests outside a session are refused.

The asyncio loop runs in one daemon thread per process (:func:`shared_proxy`); ``begin`` and
``end`` are called from the renderer's thread and are thread-safe.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ipaddress
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from snapshots.renderer import guard

logger = logging.getLogger(__name__)

ERROR_HEADER = "X-LinkHub-Proxy-Error"
READ_CHUNK = 64 * 1024
MAX_HEAD = 64 * 1024

# Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are not forwarded. Transfer-
# Encoding stays: bodies are piped through unchanged, so their framing must travel with them.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate", "te"}
    | {"trailer", "upgrade"}
)


async def open_upstream(ip: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open the proxy's only kind of upstream connection: to an IP the guard has just checked.

    Refuses anything but an IP literal, so no name can be resolved (again) on the way to connect().
    """
    ipaddress.ip_address(ip)
    return await asyncio.open_connection(ip, port, limit=MAX_HEAD)


@dataclass
class ProxySession:
    """What the proxy did for one snapshot. Frozen once :meth:`GuardProxy.end` returns it."""

    max_bytes: int
    allow_network: bool = True
    label: str = ""
    bytes_received: int = 0
    bytes_sent: int = 0
    requests: int = 0
    blocked: list[dict[str, str | None]] = field(default_factory=list)
    dns_failures: list[str] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    timeouts: list[dict[str, Any]] = field(default_factory=list)
    too_large: bool = False
    closed: bool = False
    _events: list[tuple[str, str]] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _on_exit: Callable[[ProxySession], None] | None = field(default=None, repr=False, compare=False)

    def event_for_host(self, host: str) -> str | None:
        """The first failure recorded for ``host``: "blocked_address", "dns", "refused" or "timeout".

        Chromium reports a blocked https redirect only as a tunnel failure; this says why.
        """
        wanted = guard.normalise_host(host)
        with self._lock:
            return next((kind for kind, seen in self._events if seen == wanted), None)

    def as_dict(self) -> dict[str, Any]:
        """The record as plain JSON-ready data, for provenance (``dataclasses.asdict`` chokes on the lock)."""
        with self._lock:
            return {
                "max_bytes": self.max_bytes,
                "allow_network": self.allow_network,
                "bytes_received": self.bytes_received,
                "bytes_sent": self.bytes_sent,
                "requests": self.requests,
                "blocked": [dict(entry) for entry in self.blocked],
                "dns_failures": list(self.dns_failures),
                "refused": [dict(entry) for entry in self.refused],
                "timeouts": [dict(entry) for entry in self.timeouts],
                "too_large": self.too_large,
            }

    def __enter__(self) -> ProxySession:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._on_exit is not None:
            self._on_exit(self)

    # The methods below run on the proxy's loop thread.

    def _count_request(self) -> bool:
        with self._lock:
            if self.closed:
                return False
            self.requests += 1
            return True

    def _count_sent(self, n: int) -> bool:
        with self._lock:
            if self.closed:
                return False
            self.bytes_sent += n
            return True

    def _count_received(self, n: int) -> bool:
        """Add ``n`` bytes from upstream; False once the session is over its limit or ended."""
        with self._lock:
            if self.closed or self.too_large:
                return False
            self.bytes_received += n
            if self.bytes_received > self.max_bytes:
                self.too_large = True
                return False
            return True

    def _record(self, kind: str, host: str, **details: Any) -> None:
        host = guard.normalise_host(host)
        with self._lock:
            if self.closed:
                return
            self._events.append((kind, host))
            if kind == "blocked_address":
                self.blocked.append({"host": host, "ip": details.get("ip"), "reason": details["reason"]})
            elif kind == "dns":
                self.dns_failures.append(host)
            elif kind == "refused":
                self.refused.append({"host": host, "port": details["port"]})
            elif kind == "timeout":
                self.timeouts.append({"host": host, "port": details["port"], "stage": details["stage"]})

    def _close(self) -> None:
        with self._lock:
            self.closed = True


class _Refusal(Exception):
    """Answer the client with an error status and close; raised anywhere in request handling."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message


@dataclass
class _Request:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name), None)


@dataclass
class _Connection:
    """One client connection and, once opened, its upstream connection."""

    client_reader: asyncio.StreamReader
    client_writer: asyncio.StreamWriter
    upstream_reader: asyncio.StreamReader | None = None
    upstream_writer: asyncio.StreamWriter | None = None
    host: str = ""
    port: int = 0
    last_activity: float = 0.0

    def close(self, *, abort: bool = False) -> None:
        for writer in (self.upstream_writer, self.client_writer):
            if writer is None:
                continue
            if abort:
                writer.transport.abort()
            else:
                writer.close()


def _parse_request(head: bytes) -> _Request:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[2] not in ("HTTP/1.0", "HTTP/1.1") or not parts[0].isalpha():
        raise _Refusal(400, "bad_request", "malformed request line")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        # Folded lines and spaces before the colon are classic request-smuggling material.
        if not sep or not name or name != name.strip() or line[0] in " \t":
            raise _Refusal(400, "bad_request", "malformed header line")
        headers.append((name, value.strip()))
    return _Request(parts[0].upper(), parts[1], parts[2], headers)


def _split_authority(authority: str, default_port: int | None = None) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` (the port may be left out when there is a default)."""
    if authority.startswith("["):
        host, sep, rest = authority[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise _Refusal(400, "bad_request", "malformed host")
        port_text = rest[1:]
    elif authority.count(":") == 1 or default_port is None:
        host, _, port_text = authority.rpartition(":") if ":" in authority else (authority, "", "")
    else:
        host, port_text = authority, ""
    if not port_text and default_port is not None:
        port_text = str(default_port)
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise _Refusal(400, "bad_request", "expected host:port")
    return host, int(port_text)


def _hop_by_hop(headers: list[tuple[str, str]]) -> set[str]:
    names = set(_HOP_BY_HOP)
    for key, value in headers:
        if key.lower() == "connection":
            names.update(token.strip().lower() for token in value.split(","))
    return names


def _error_response(status: int, kind: str, message: str) -> bytes:
    body = (message + "\n").encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"{ERROR_HEADER}: {kind}\r\n"
        "Cache-Control: no-store\r\n"
        "Connection: close\r\n"
        "Proxy-Connection: close\r\n\r\n"
    )
    return head.encode() + body


def _rewrite_response_head(head: bytes) -> bytes:
    """The upstream response head with ``Connection: close`` and no hop-by-hop headers."""
    lines = head.decode("latin-1").split("\r\n")
    headers = [(name, value) for name, _, value in (line.partition(":") for line in lines[1:] if line)]
    drop = _hop_by_hop(headers) - {"trailer"}
    kept = [f"{name}:{value}" for name, value in headers if name.strip().lower() not in drop]
    return "\r\n".join([lines[0], *kept, "Connection: close", "", ""]).encode("latin-1")


def _status_code(head: bytes) -> int:
    parts = head.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise _Refusal(502, "bad_gateway", "malformed response from upstream")
    return int(parts[1])


class GuardProxy:
    """A guarded HTTP forward proxy on 127.0.0.1, served by an asyncio loop in a daemon thread."""

    def __init__(self, *, connect_timeout: float = 10.0, idle_timeout: float = 30.0) -> None:
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self.port: int | None = None
        self._lock = threading.Lock()
        self._session: ProxySession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._handlers: dict[asyncio.Task[Any], ProxySession | None] = {}

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the guard proxy is not started")
        return f"http://127.0.0.1:{self.port}"

    # --- lifecycle (any thread) ---------------------------------------------------------------

    def start(self) -> int:
        """Bind 127.0.0.1 on a free port, serve from a daemon thread, and return the port."""
        if self._thread is not None and self.port is not None:
            return self.port
        ready: concurrent.futures.Future[int] = concurrent.futures.Future()
        # check_host blocks in getaddrinfo, so it runs off the loop.
        self._executor = concurrent.futures.ThreadPoolExecutor(8, thread_name_prefix="guard-resolve")
        self._thread = threading.Thread(target=self._run, args=(ready,), name="guard-proxy", daemon=True)
        self._thread.start()
        self.port = ready.result(timeout=10)
        logger.info("guard proxy listening on 127.0.0.1:%s", self.port)
        return self.port

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self._loop = self._thread = None
        self.port = None
        logger.info("guard proxy stopped")

    def begin(self, max_bytes: int, allow_network: bool = True, *, label: str = "") -> ProxySession:
        """Start accounting for one snapshot; ``label`` (the snapshot id) goes into log lines."""
        if self._loop is None:
            raise RuntimeError("start() the guard proxy before begin()")
        session = ProxySession(max_bytes=max_bytes, allow_network=allow_network, label=label)
        session._on_exit = self._end_if_current
        with self._lock:
            stale, self._session = self._session, session
        if stale is not None:
            # A renderer that crashed before end(): close its connections rather than fail forever.
            logger.warning("guard proxy session %s was never ended; ending it for %s", stale.label, label)
            self._finish(stale)
        return session

    def end(self) -> ProxySession:
        """Stop accounting, close the session's connections, and return its record."""
        with self._lock:
            session, self._session = self._session, None
        if session is None:
            raise RuntimeError("no guard proxy session is active")
        self._finish(session)
        return session

    def _end_if_current(self, session: ProxySession) -> None:
        with self._lock:
            current = self._session is session
            if current:
                self._session = None
        if current:
            self._finish(session)

    def _finish(self, session: ProxySession) -> None:
        session._close()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._cancel_session, session, None)
        logger.info(
            "guard proxy session %s: %s requests, %s bytes in, %s out, %s blocked, too large: %s",
            session.label,
            session.requests,
            session.bytes_received,
            session.bytes_sent,
            len(session.blocked),
            session.too_large,
        )

    def current_or_none(self) -> ProxySession | None:
        """The active session, if any (its counters are still moving)."""
        with self._lock:
            return self._session

    # --- the loop thread ----------------------------------------------------------------------

    def _run(self, ready: concurrent.futures.Future[int]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            server = loop.run_until_complete(
                asyncio.start_server(self._handle_client, "127.0.0.1", 0, limit=MAX_HEAD)
            )
        except BaseException as exc:
            ready.set_exception(exc)
            loop.close()
            return
        self._server, self._loop = server, loop
        ready.set_result(server.sockets[0].getsockname()[1])
        try:
            loop.run_forever()
        finally:
            server.close()
            self._cancel_session(None, None, every=True)
            pending = list(self._handlers)
            if pending:
                loop.run_until_complete(asyncio.wait(pending, timeout=5))
            loop.close()

    def _cancel_session(
        self, session: ProxySession | None, keep: asyncio.Task[Any] | None, *, every: bool = False
    ) -> None:
        for task, owner in list(self._handlers.items()):
            if task is not keep and (every or owner is session):
                task.cancel()

    async def _handle_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers[task] = None
        conn = _Connection(reader, writer)
        abort = False
        try:
            abort = await self._serve(conn, task)
        except asyncio.CancelledError:
            abort = True
            raise
        except _Refusal as refusal:
            writer.write(_error_response(refusal.status, refusal.kind, refusal.message))
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            logger.debug("guard proxy: client connection ended early", exc_info=True)
        except Exception:
            logger.exception("guard proxy: request failed")
            writer.write(_error_response(502, "bad_gateway", "proxy error"))
        finally:
            conn.close(abort=abort)
            self._handlers.pop(task, None)

    async def _serve(self, conn: _Connection, task: asyncio.Task[Any]) -> bool:
        """Handle the one request of a client connection; True when its connections must be aborted."""
        try:
            async with asyncio.timeout(self.idle_timeout):
                head = await conn.client_reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raise _Refusal(400, "bad_request", "request head too large")
        request = _parse_request(head)
        session = self.current_or_none()
        if session is None or not session._count_request():
            raise _Refusal(403, "no_session", "the guard proxy has no active snapshot session")
        self._handlers[task] = session
        if session.too_large:
            raise _Refusal(403, "too_large", "the snapshot's download limit was reached")
        if request.method == "CONNECT":
            host, port = _split_authority(request.target)
            await self._open(conn, session, host, port)
            conn.client_writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            return await self._pipe(conn, session, task, rewrite_response=False)
        host, port, upstream_head = self._plain_request(request)
        await self._open(conn, session, host, port)
        assert conn.upstream_writer is not None
        session._count_sent(len(upstream_head))
        conn.upstream_writer.write(upstream_head)
        return await self._pipe(conn, session, task, rewrite_response=True)

    def _plain_request(self, request: _Request) -> tuple[str, int, bytes]:
        """Host, port and the origin-form request head to send upstream for an absolute-form request."""
        try:
            parts = urlsplit(request.target)
        except ValueError:
            raise _Refusal(400, "bad_request", "malformed URL")
        if parts.scheme.lower() != "http" or not parts.netloc:
            raise _Refusal(400, "bad_request", "a forward proxy needs an absolute http:// URL")
        if request.header("upgrade") is not None:
            raise _Refusal(403, "upgrade_refused", "protocol upgrades are not proxied")
        authority = parts.netloc.rpartition("@")[2]
        if authority.count(":") > 1 and not authority.startswith("["):
            # httpx writes IPv6 literals unbracketed in the request line ("http://::1:8080/"), which
            # is ambiguous; its Host header has them right. Whatever we pick is checked by the guard.
            authority = request.header("host") or ""
        host, port = _split_authority(authority, default_port=80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        drop = _hop_by_hop(request.headers) | {"host"}
        lines = [f"{request.method} {path} {request.version}", f"Host: {authority}"]
        lines += [f"{name}: {value}" for name, value in request.headers if name.lower() not in drop]
        lines += ["Connection: close", "", ""]
        return host, port, "\r\n".join(lines).encode("latin-1")

    async def _open(self, conn: _Connection, session: ProxySession, host: str, port: int) -> None:
        """Check ``host`` with the guard and connect to one of the checked IPs, or raise _Refusal."""
        conn.host, conn.port = host, port
        ips = await self._checked_ips(session, host, port)
        failure = "refused"
        for ip in ips:
            try:
                async with asyncio.timeout(self.connect_timeout):
                    conn.upstream_reader, conn.upstream_writer = await open_upstream(ip, port)
                return
            except TimeoutError:
                failure = "timeout"
            except OSError as exc:
                logger.info("guard proxy %s: connect to %s port %s failed: %s", session.label, ip, port, exc)
        if failure == "timeout":
            session._record("timeout", host, port=port, stage="connect")
            raise _Refusal(504, "timeout", f"connecting to {host} timed out")
        session._record("refused", host, port=port)
        raise _Refusal(502, "refused", f"{host} refused the connection")

    async def _checked_ips(self, session: ProxySession, host: str, port: int) -> list[str]:
        if not session.allow_network:
            session._record("blocked_address", host, ip=None, reason="network disabled")
            raise _Refusal(403, "network_disabled", "network access is disabled for this snapshot")
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                ips = await loop.run_in_executor(self._executor, guard.check_host, host, port)
        except guard.BlockedAddress as exc:
            logger.info("guard proxy %s blocked %s (%s): %s", session.label, host, exc.ip, exc.reason)
            session._record("blocked_address", host, ip=exc.ip, reason=exc.reason)
            raise _Refusal(403, "blocked_address", exc.reason)
        except (guard.ResolutionFailed, TimeoutError) as exc:
            logger.info("guard proxy %s: cannot resolve %s: %s", session.label, host, exc)
            session._record("dns", host)
            raise _Refusal(502, "dns", f"cannot resolve {host}")
        if port == self.port and any(ipaddress.ip_address(ip).is_loopback for ip in ips):
            # Only reachable when tests allow loopback; a request to ourselves would loop forever.
            session._record("blocked_address", host, ip=ips[0], reason="the guard proxy itself")
            raise _Refusal(403, "blocked_address", "the guard proxy itself")
        return ips

    async def _pipe(
        self, conn: _Connection, session: ProxySession, task: asyncio.Task[Any], *, rewrite_response: bool
    ) -> bool:
        """Copy both ways until upstream is done or the connection idles; True if cut off (limit)."""
        assert conn.upstream_reader is not None and conn.upstream_writer is not None
        loop = asyncio.get_running_loop()
        conn.last_activity = loop.time()
        upload = asyncio.ensure_future(
            self._copy(conn, conn.client_reader, conn.upstream_writer, session._count_sent)
        )
        download = asyncio.ensure_future(self._download(conn, session, rewrite_response))
        try:
            done, _ = await asyncio.wait({upload, download}, return_when=asyncio.FIRST_COMPLETED)
            # A client that half-closes after its request still gets the whole answer.
            if download not in done and upload.result() == "eof":
                await download
            outcome = download.result() if download.done() else upload.result()
        finally:
            upload.cancel()
            download.cancel()
        if outcome == "limit":
            if session.too_large:
                logger.info("guard proxy %s: over %s bytes, closing", session.label, session.max_bytes)
                self._cancel_session(session, task)
            return True
        return False

    async def _download(self, conn: _Connection, session: ProxySession, rewrite_response: bool) -> str:
        assert conn.upstream_reader is not None
        if rewrite_response:
            outcome = await self._forward_response_head(conn, session)
            if outcome is not None:
                return outcome
        return await self._copy(conn, conn.upstream_reader, conn.client_writer, session._count_received)

    async def _forward_response_head(self, conn: _Connection, session: ProxySession) -> str | None:
        """Forward interim (1xx) heads as they are and the final head rewritten; None if all went well."""
        assert conn.upstream_reader is not None
        while True:
            try:
                async with asyncio.timeout(self.idle_timeout):
                    head = await conn.upstream_reader.readuntil(b"\r\n\r\n")
            except TimeoutError:
                session._record("timeout", conn.host, port=conn.port, stage="response")
                raise _Refusal(504, "timeout", f"{conn.host} sent no response in time") from None
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                raise _Refusal(502, "bad_gateway", "upstream sent no valid response") from None
            if not session._count_received(len(head)):
                return "limit"
            status = _status_code(head)
            conn.last_activity = asyncio.get_running_loop().time()
            if 100 <= status < 200 and status != 101:
                conn.client_writer.write(head)
                continue
            conn.client_writer.write(_rewrite_response_head(head))
            return None

    async def _copy(
        self,
        conn: _Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        count: Callable[[int], bool],
    ) -> str:
        """Copy until EOF ("eof"), idle timeout ("idle"), a refused count ("limit") or an error."""
        loop = asyncio.get_running_loop()
        while True:
            remaining = conn.last_activity + self.idle_timeout - loop.time()
            if remaining <= 0:
                return "idle"
            try:
                # Idleness is shared by both directions: a long download keeps the upload side open.
                async with asyncio.timeout(remaining):
                    data = await reader.read(READ_CHUNK)
            except TimeoutError:
                continue
            except (ConnectionError, OSError):
                return "error"
            if not data:
                if writer.can_write_eof() and not writer.is_closing():
                    try:
                        writer.write_eof()
                    except OSError:
                        return "error"
                return "eof"
            if not count(len(data)):
                return "limit"
            conn.last_activity = loop.time()
            try:
                writer.write(data)
                async with asyncio.timeout(self.idle_timeout):
                    await writer.drain()
            except (ConnectionError, OSError, TimeoutError):
                return "error"


_shared: GuardProxy | None = None
_shared_pid: int | None = None
_shared_lock = threading.Lock()


def shared_proxy() -> GuardProxy:
    """This process's running guard proxy, started on first use.

    Keyed by pid because threads do not survive fork: a Celery prefork child starts its own.
    """
    global _shared, _shared_pid
    with _shared_lock:
        if _shared is None or _shared_pid != os.getpid() or not _shared.running:
            _shared = GuardProxy()
            _shared.start()
            _shared_pid = os.getpid()
        return _shared
