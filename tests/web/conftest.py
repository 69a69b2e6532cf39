"""The web app on a real uvicorn server on 127.0.0.1, and a small cookie-keeping HTTP client."""

from __future__ import annotations

import http.client
import mailbox
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import uvicorn

from aggregator.app import App
from aggregator.config import Settings, from_mapping
from aggregator.mail.transport import Transport
from aggregator.web.app import create_app
from tests.support.smtpserver import SMTPTestServer

SOURCES = [
    {"name": "Alpha Weekly", "url": "http://127.0.0.1:9/alpha.xml", "tags": ["alignment", "ml"]},
    {"name": "Beta <Blog>", "url": "http://127.0.0.1:9/beta.xml", "tags": ["policy"]},
]
DIGESTS = [
    {"name": "daily", "title": "Daily digest", "schedule": "0 7 * * *"},
    {"name": "weekly", "title": "Weekly digest", "schedule": "0 8 * * mon"},
]


def make_settings(root: Path, database_url: str, **sections: dict[str, Any]) -> Settings:
    """Settings for a site rooted in ``root``: two sources, two digests, Maildir outbox."""
    data: dict[str, Any] = {
        "general": {"name": "Test Digest", "base_url": "http://127.0.0.1:8080"},
        "database": {"url": database_url},
        "sources": SOURCES,
        "digests": DIGESTS,
        "mail": {"from_address": "digest@example.org", "transport": "maildir"},
        "web": {"secret_env": "AGGREGATOR_TEST_NO_SUCH_SECRET"},
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return from_mapping(data, root=root, origin="test")


class LiveServer:
    """uvicorn serving an ASGI app on a loopback socket bound up front, in a background thread."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    def start(self, asgi: Any, **options: Any) -> LiveServer:
        """Serve ``asgi``; ``options`` go to ``uvicorn.Config``."""
        config = uvicorn.Config(asgi, log_level="warning", lifespan="off", **options)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self.server and self.thread:
            self.server.should_exit = True
            self.thread.join(10)
        self.socket.close()


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def csrf(self) -> str:
        match = re.search(r'name="csrf_token" value="([^"]+)"', self.text)
        assert match, "page has no CSRF field"
        return match.group(1)


@dataclass
class Client:
    """http.client with a cookie jar of one site; never follows redirects or decompresses."""

    base: str
    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        *,
        form: dict[str, Any] | list[tuple[str, str]] | None = None,
        body: bytes | Iterable[bytes] | None = None,
        headers: dict[str, str] | None = None,
        send_cookies: bool = True,
    ) -> Reply:
        parts = urlsplit(self.base)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        all_headers = dict(headers or {})
        if form is not None:
            body = urlencode(form, doseq=True).encode()
            all_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if send_cookies and self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            chunked = "Transfer-Encoding" in all_headers
            conn.request(method, path, body=body, headers=all_headers, encode_chunked=chunked)
            response = conn.getresponse()
            reply = Reply(response.status, response.headers, response.read())
        finally:
            conn.close()
        for value in reply.headers.get_all("Set-Cookie") or []:
            jar: SimpleCookie = SimpleCookie()
            jar.load(value)
            self.cookies.update({k: m.value for k, m in jar.items()})
        return reply

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Reply:
        return self.request("POST", path, **kwargs)


@dataclass
class Site:
    app: App
    server: LiveServer
    outbox: Path

    @property
    def url(self) -> str:
        return self.server.url

    def client(self) -> Client:
        return Client(self.server.url)

    def mails(self) -> list[EmailMessage]:
        if not all((self.outbox / sub).is_dir() for sub in ("tmp", "new", "cur")):
            return []  # not created yet, or being created right now
        box = mailbox.Maildir(self.outbox, create=False)
        return [message_from_bytes(box.get_bytes(k), policy=policy.default) for k in box.iterkeys()]  # type: ignore[misc]

    def wait_for_mails(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        """The outbox once it holds ``count`` mails (mail goes out after the response)."""
        deadline = time.monotonic() + timeout
        while len(mails := self.mails()) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return mails


SiteFactory = Callable[..., Site]


@pytest.fixture
def make_site(tmp_path: Path, database_url: str) -> Iterator[SiteFactory]:
    """Start the web app: ``make_site(web={...}, transport=...)``; stopped after the test.

    ``general.base_url`` is the live server's address, so links in mail work as they are.
    """
    started: list[tuple[App, LiveServer]] = []

    def start(transport: Transport | None = None, **sections: dict[str, Any]) -> Site:
        root = tmp_path / f"site{len(started)}"
        root.mkdir()
        server = LiveServer()
        general = {"base_url": server.url, **sections.pop("general", {})}
        app = App(make_settings(root, database_url, general=general, **sections))
        started.append((app, server))
        server.start(create_app(app, transport=transport))
        return Site(app, server, app.settings.path(app.settings.mail.maildir))

    yield start
    for app, server in started:
        server.stop()
        app.close()


@pytest.fixture
def site(make_site: SiteFactory) -> Site:
    return make_site()


@pytest.fixture
def smtp() -> Iterator[SMTPTestServer]:
    """A real aiosmtpd server on loopback (plain SMTP, no auth)."""
    server = SMTPTestServer(security="none").start()
    yield server
    server.stop()
