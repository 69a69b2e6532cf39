"""The web server's limits: open files, a connection cap, and the time a request may take to arrive.

uvicorn alone waits forever for a request's head, and accepts connections until the process runs
out of file descriptors; then polling, mail and the database fail too. Here:

- the soft open-file limit is raised to the hard limit at start-up (:func:`raise_open_files_limit`);
- the web server holds at most ``web.max_connections`` connections, and never more than the
  open-file limit minus ``web.reserved_descriptors``; a connection beyond the cap closes the
  oldest one still sending its request, or, when every one is being answered, is refused
  with a 503;
- a request (head and body) must arrive within ``web.request_timeout_seconds`` of the
  connection opening or of the previous response, else the connection is closed;
- a request head is at most 64 KB (``MAX_HEAD_BYTES``), with h11 or httptools;
- the listen backlog is an eighth of the reserve: asyncio and uvloop accept a backlog's worth of
  connections before any of them is counted, and that burst must fit in the reserve.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, ClassVar

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from aggregator.config import WebSettings

try:  # uvicorn's faster parser, when installed (uvicorn[standard])
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _HttpTools

    HTTPTOOLS: type | None = _HttpTools
except ImportError:  # pragma: no cover - httptools is a dependency
    HTTPTOOLS = None

try:
    import resource
except ImportError:  # pragma: no cover - not on Windows
    resource = None  # type: ignore[assignment]

log = logging.getLogger("aggregator.web")

MAX_SOFT_LIMIT = 1 << 20
"""The soft open-file limit asked for when the hard limit is unlimited."""
MIN_BACKLOG, MAX_BACKLOG = 16, 2048
MAX_HEAD_BYTES = 64 * 1024
"""A request head (request line and headers) may be at most this long, with either parser."""
REPORT_SECONDS = 60.0
"""Closed and refused connections are logged at most once a minute, as counts."""
TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\n"
    b"content-length: 0\r\n\r\n"
)
REFUSED = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"retry-after: 5\r\nconnection: close\r\ncontent-length: 21\r\n\r\nToo many connections\n"
)


def raise_open_files_limit() -> int | None:
    """Raise the soft open-file limit to the hard one; the soft limit now (None: unknown)."""
    if resource is None:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MAX_SOFT_LIMIT if hard == resource.RLIM_INFINITY else hard
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return None if soft == resource.RLIM_INFINITY else soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (ValueError, OSError):
        return soft
    return wanted


def open_files_limit() -> int | None:
    """The soft open-file limit (None: unknown or unlimited)."""
    if resource is None:
        return None
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return None if soft == resource.RLIM_INFINITY else soft


def connection_cap(web: WebSettings, limit: int | None) -> int:
    """How many connections the web server may hold under an open-file ``limit``."""
    if limit is None:
        return web.max_connections
    return max(1, min(web.max_connections, limit - web.reserved_descriptors))


def backlog(web: WebSettings) -> int:
    """The listen backlog: a burst accepted at once stays inside the reserve."""
    return max(MIN_BACKLOG, min(MAX_BACKLOG, web.reserved_descriptors // 8))


class ConnectionGuard:
    """The connection cap and the request deadline, shared by every connection of one server."""

    def __init__(self, cap: int, timeout: float) -> None:
        self.cap = cap
        self.timeout = timeout
        self._waiting: dict[Any, asyncio.TimerHandle] = {}
        """Connections still sending a request, oldest first, with their deadlines."""
        self.closed_slow = 0
        self.refused = 0
        self._reported = -REPORT_SECONDS

    def opened(self, protocol: Any) -> bool:
        """Count a new connection: make room by closing the oldest one still sending its
        request, or refuse this one; False when refused."""
        if len(protocol.connections) > self.cap:
            oldest = next(iter(self._waiting), None)
            if oldest is None:
                self.refused += 1
                protocol.transport.write(REFUSED)
                protocol.transport.close()
                self._report()
                return False
            self.closed_slow += 1
            self._close(oldest)
        self.arm(protocol)
        return True

    def arm(self, protocol: Any) -> None:
        """The connection awaits a request: start its deadline unless one runs already."""
        if protocol not in self._waiting and not protocol.transport.is_closing():
            loop = asyncio.get_running_loop()
            self._waiting[protocol] = loop.call_later(self.timeout, self._expired, protocol)

    def disarm(self, protocol: Any) -> None:
        """The request has arrived (or the connection is gone): no deadline."""
        handle = self._waiting.pop(protocol, None)
        if handle is not None:
            handle.cancel()

    def _expired(self, protocol: Any) -> None:
        self._waiting.pop(protocol, None)
        self.closed_slow += 1
        self._close(protocol)

    def _close(self, protocol: Any) -> None:
        self.disarm(protocol)
        protocol.transport.close()
        self._report()

    def _report(self) -> None:
        now = time.monotonic()
        if now - self._reported < REPORT_SECONDS:
            return
        self._reported = now
        log.warning(
            "web: %d connection(s) so far closed for sending a request too slowly (over %.0f s) "
            "or to make room, %d refused: at most %d at once",
            self.closed_slow,
            self.timeout,
            self.refused,
            self.cap,
        )


class _GuardedH11(H11Protocol):
    """uvicorn's h11 protocol under a :class:`ConnectionGuard`."""

    guard: ClassVar[ConnectionGuard]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.guard.opened(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.disarm(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def _watch(self) -> None:
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY):
            self.guard.arm(self)
        else:
            self.guard.disarm(self)


def _guarded_httptools(base: type) -> type:
    class _GuardedHttpTools(base):
        """uvicorn's httptools protocol under a :class:`ConnectionGuard`."""

        guard: ClassVar[ConnectionGuard]
        _head_bytes = 0
        _head_done = False

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            self.guard.opened(self)

        def data_received(self, data: bytes) -> None:
            if not self._head_done:  # httptools itself sets no bound on a head
                self._head_bytes += len(data)
                if self._head_bytes > MAX_HEAD_BYTES:
                    self.transport.write(TOO_LARGE)
                    self.transport.close()
                    return
            super().data_received(data)

        def on_headers_complete(self) -> None:
            self._head_done = True
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self.guard.disarm(self)
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self.guard.arm(self)

        def on_message_complete(self) -> None:
            self.guard.disarm(self)
            super().on_message_complete()

        def on_response_complete(self) -> None:
            self._head_done, self._head_bytes = False, 0
            super().on_response_complete()
            if not self.pipeline and (self.cycle is None or self.cycle.response_complete):
                self.guard.arm(self)

    return _GuardedHttpTools


def guarded_protocol(guard: ConnectionGuard) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools when installed, else h11) bound to ``guard``."""
    base: type = _guarded_httptools(HTTPTOOLS) if HTTPTOOLS is not None else _GuardedH11
    return type(base.__name__, (base,), {"guard": guard})


def server_config(asgi: Any, web: WebSettings, **options: Any) -> uvicorn.Config:
    """The ``uvicorn.Config`` serving ``asgi`` on ``web.host:web.port`` within the limits above
    (call :func:`raise_open_files_limit` first); ``options`` go to uvicorn as they are."""
    limit = open_files_limit()
    guard = ConnectionGuard(connection_cap(web, limit), web.request_timeout_seconds)
    log.info(
        "web: at most %d connection(s) (open-file limit %s, %d kept free); a request must "
        "arrive within %.0f s",
        guard.cap,
        limit if limit is not None else "unlimited",
        web.reserved_descriptors,
        web.request_timeout_seconds,
    )
    if limit is not None and limit - web.reserved_descriptors < 64:
        log.warning(
            "web: the open-file limit (%d) leaves room for only %d connection(s); raise it "
            "(LimitNOFILE= in the systemd unit)",
            limit,
            guard.cap,
        )
    return uvicorn.Config(
        asgi,
        host=web.host,
        port=web.port,
        http=guarded_protocol(guard),
        ws="none",  # no page upgrades to a WebSocket; an upgrade would slip past the guard
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        timeout_keep_alive=web.keep_alive_seconds,
        backlog=backlog(web),
        **options,
    )
