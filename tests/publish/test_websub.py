"""WebSub publish pings against a real hub stand-in on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import pytest

from aggregator.publish.websub import WebSubError, link_header, ping_hub


class _Hub(ThreadingHTTPServer):
    """Records every POST; answers with `status` after `delay` seconds."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _HubHandler)
        self.posts: list[tuple[str, str, list[tuple[str, str]]]] = []
        self.status = 204
        self.delay = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hub"


class _HubHandler(BaseHTTPRequestHandler):
    server: _Hub

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode("ascii")
        self.server.posts.append((self.path, self.headers["Content-Type"], parse_qsl(body)))
        time.sleep(self.server.delay)
        self.send_response(self.server.status)
        reply = b"topic not known\nto this hub" if self.server.status >= 400 else b""
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def hub() -> Iterator[_Hub]:
    server = _Hub()
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_ping_posts_publish_form_with_every_topic(hub):
    topics = ["https://agg.example/feed.atom", "https://agg.example/feed.json?a=1&b=2"]
    ping_hub(hub.url, topics)
    assert hub.posts == [
        (
            "/hub",
            "application/x-www-form-urlencoded",
            [("hub.mode", "publish"), ("hub.url", topics[0]), ("hub.url", topics[1])],
        )
    ]


def test_ping_with_no_topics_sends_nothing(hub):
    ping_hub(hub.url, [])
    assert hub.posts == []


def test_hub_refusal_raises_one_line_error(hub):
    hub.status = 400
    with pytest.raises(WebSubError, match="HTTP 400 topic not known to this hub") as caught:
        ping_hub(hub.url, ["https://agg.example/feed.atom"])
    assert "\n" not in str(caught.value)
    assert len(hub.posts) == 1


def test_slow_hub_times_out(hub):
    hub.delay = 1.0
    with pytest.raises(WebSubError, match="unreachable"):
        ping_hub(hub.url, ["https://agg.example/feed.atom"], timeout=0.2)


def test_unreachable_hub_raises():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(WebSubError, match="unreachable"):
        ping_hub(f"http://127.0.0.1:{port}/hub", ["https://agg.example/feed.atom"])


@pytest.mark.parametrize("bad", ["file:///etc/passwd", "hub.example/publish", "", "http://[::1"])
def test_non_http_hub_is_refused(bad):
    with pytest.raises(WebSubError, match="not an absolute http"):
        ping_hub(bad, ["https://agg.example/feed.atom"])


def test_link_header_advertises_hub_and_self():
    assert link_header("https://hub.example/", "https://agg.example/feed.atom") == (
        '<https://hub.example/>; rel="hub", <https://agg.example/feed.atom>; rel="self"'
    )


def test_link_header_cannot_be_injected():
    value = link_header(
        'https://hub.example/>; rel="evil"\r\nSet-Cookie: x=1', "https://a.example/f"
    )
    assert "\r" not in value and "\n" not in value
    assert value.count("<") == 2 and value.count(">") == 2
    assert value.count('"') == 4
    with pytest.raises(ValueError, match="absolute http"):
        link_header("https://hub.example/", "javascript:alert(1)")
