"""A WebSub hub on 127.0.0.1 for the tests: takes (un)subscribe requests, verifies the intent at
the callback (after answering 202, as hubs do), and delivers content signed or not."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit


@dataclass
class HubSubscription:
    topic: str
    callback: str
    secret: str | None
    mode: str
    verified: bool = False
    echoed: str | None = None
    requests: int = 0


@dataclass
class LoopbackHub:
    lease_seconds: int | None = 3600
    """What the hub grants in its verification (None: the parameter is left out)."""
    subscriptions: dict[str, HubSubscription] = field(default_factory=dict)
    requests: list[dict[str, str]] = field(default_factory=list)
    verified: threading.Condition = field(default_factory=threading.Condition)

    def start(self) -> LoopbackHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                hub.requests.append(form)
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                threading.Thread(target=hub._verify, args=(form,), daemon=True).start()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hub"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _verify(self, form: dict[str, str]) -> None:
        topic, mode = form["hub.topic"], form["hub.mode"]
        challenge = secrets.token_urlsafe(16)
        params = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": challenge}
        if mode == "subscribe" and self.lease_seconds is not None:
            params["hub.lease_seconds"] = str(self.lease_seconds)
        status, body = call("GET", f"{form['hub.callback']}?{urlencode(params)}")
        with self.verified:
            sub = self.subscriptions.setdefault(
                topic, HubSubscription(topic, form["hub.callback"], None, mode)
            )
            sub.requests += 1
            sub.callback, sub.mode, sub.echoed = form["hub.callback"], mode, body
            sub.verified = status == 200 and body == challenge
            if mode == "subscribe" and sub.verified:
                sub.secret = form.get("hub.secret")
            self.verified.notify_all()

    def wait(self, topic: str, mode: str = "subscribe", requests: int = 1) -> HubSubscription:
        """The topic's subscription once the callback verified ``requests`` requests of ``mode``."""
        with self.verified:
            assert self.verified.wait_for(
                lambda: (
                    (s := self.subscriptions.get(topic)) is not None
                    and s.mode == mode
                    and s.requests >= requests
                ),
                timeout=10,
            ), f"no {mode} verified for {topic}"
            return self.subscriptions[topic]

    def publish(
        self, topic: str, body: bytes, *, sign: str | None = "sha256", secret: str | None = None
    ) -> tuple[int, str]:
        """Deliver ``body`` to the topic's subscriber, signed with ``sign`` (or not)."""
        sub = self.subscriptions[topic]
        headers = {"Content-Type": "application/atom+xml"}
        if sign is not None:
            key = (secret or sub.secret or "").encode()
            digest = hmac.new(key, body, getattr(hashlib, sign)).hexdigest()
            headers["X-Hub-Signature"] = f"{sign}={digest}"
        return call("POST", sub.callback, body=body, headers=headers)


def call(
    method: str, url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()
