"""The web server's limits on a real uvicorn server, with each of its HTTP parsers: a request
that arrives too slowly is cut off, the oldest slow connection makes room beyond the cap, and
with every connection busy a newcomer gets a 503."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from aggregator.config import WebSettings
from aggregator.web import server as web_server
from aggregator.web.server import backlog, connection_cap, server_config

HEAD = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"


class App:
    """Answers "ok"; ``/wait`` answers once ``release`` is set."""

    def __init__(self) -> None:
        self.release = threading.Event()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["path"] == "/wait":
            while not self.release.is_set():
                await asyncio.sleep(0.02)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture(params=["httptools", "h11"])
def serve(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``serve(**web_settings)``: App on a real server under those limits; (port, app)."""
    if request.param == "h11":
        monkeypatch.setattr(web_server, "HTTPTOOLS", None)
    running: list[tuple[uvicorn.Server, threading.Thread, socket.socket]] = []

    def start(**web: Any) -> tuple[int, App]:
        app = App()
        sock = socket.create_server(("127.0.0.1", 0))
        config = server_config(app, WebSettings(**web), log_level="warning", lifespan="off")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        running.append((server, thread, sock))
        return sock.getsockname()[1], app

    yield start
    for server, thread, sock in running:
        server.should_exit = True
        thread.join(10)
        sock.close()


def _connect(port: int, data: bytes = HEAD) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(data)
    return sock


def _closed(sock: socket.socket, within: float) -> bool:
    """Whether the server closes ``sock`` (after any reply) within ``within`` seconds."""
    sock.settimeout(within)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def _get(port: int, path: str = "/") -> bytes:
    with _connect(
        port, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    ) as s:
        s.settimeout(5)
        reply = b""
        while chunk := s.recv(4096):
            reply += chunk
    return reply


def test_a_request_that_arrives_too_slowly_is_cut_off(serve: Any) -> None:
    port, _app = serve(request_timeout_seconds=1)
    trickler = _connect(port)
    started = time.monotonic()
    for _ in range(3):  # lines keep coming, but the deadline does not move
        time.sleep(0.3)
        trickler.sendall(b"X-Slow: 1\r\n")
    assert _get(port).startswith(b"HTTP/1.1 200")
    assert _closed(trickler, within=3)
    assert 0.9 < time.monotonic() - started < 3
    trickler.close()


def test_an_endless_request_head_is_cut_off_at_its_size_limit(serve: Any) -> None:
    port, _app = serve(request_timeout_seconds=60)
    with _connect(port) as sock:
        try:
            for _ in range(200):  # 200 KB of headers, fast
                sock.sendall(b"X-Big: " + b"a" * 1000 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.settimeout(5)
        try:
            reply = sock.recv(4096)
        except ConnectionResetError:
            reply = b""
    assert not reply.startswith(b"HTTP/1.1 200")
    assert _get(port).startswith(b"HTTP/1.1 200")


def test_a_kept_alive_connection_gets_a_fresh_deadline_for_each_request(serve: Any) -> None:
    port, _app = serve(request_timeout_seconds=1, keep_alive_seconds=5)
    with _connect(port, HEAD + b"\r\n") as sock:
        for _ in range(3):
            sock.settimeout(5)
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
            time.sleep(0.7)  # 2.1 s in all on one connection, each request well within 1 s
            sock.sendall(HEAD + b"\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")


def test_beyond_the_cap_the_oldest_slow_connection_makes_room(serve: Any) -> None:
    port, _app = serve(max_connections=3, request_timeout_seconds=60)
    slow = [_connect(port) for _ in range(3)]
    time.sleep(0.3)
    assert _get(port).startswith(b"HTTP/1.1 200")
    assert _closed(slow[0], within=2)
    assert not _closed(slow[1], within=0.3) and not _closed(slow[2], within=0.3)
    for sock in slow:
        sock.close()


def test_with_every_connection_busy_a_newcomer_gets_a_503(serve: Any) -> None:
    port, app = serve(max_connections=2, request_timeout_seconds=60)
    busy = [
        _connect(port, b"GET /wait HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        for _ in range(2)
    ]
    time.sleep(0.3)
    with _connect(port, b"") as newcomer:  # refused as it connects, before it sends a byte
        newcomer.settimeout(5)
        refused = newcomer.recv(4096)
        assert _closed(newcomer, within=2)
    assert refused.startswith(b"HTTP/1.1 503"), refused
    assert b"Too many connections" in refused
    app.release.set()
    for sock in busy:
        sock.settimeout(5)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        sock.close()


def test_the_cap_leaves_the_reserve_free() -> None:
    web = WebSettings()
    assert connection_cap(web, 1024) == 1024 - 256
    assert connection_cap(web, 65536) == 1000
    assert connection_cap(web, None) == 1000
    assert connection_cap(WebSettings(reserved_descriptors=512), 256) == 1
    assert backlog(web) * 4 <= web.reserved_descriptors
