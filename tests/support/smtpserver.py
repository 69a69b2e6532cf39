"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, an ephemeral port, scripted failures.

In a test, use the ``smtp_server`` fixture: ``server = smtp_server(security="starttls",
credentials=("user", "secret"))``. Standalone, for a test that needs it in another process::

    python -m tests.support.smtpserver --port 0 --security starttls --ca-file ca.pem \\
        --auth user:secret --tempfail slow@example.com=2 --reject gone@example.com --maildir out/

prints ``PORT <n>`` on its first line and runs until interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import mailbox
import signal
import ssl
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    connection: int
    """Which connection carried it (1, 2, ...), to see reconnects."""
    login: str | None


class ScriptedHandler:
    """Stores accepted messages; answers 451/550 or drops the connection when told to."""

    def __init__(
        self, sink: Callable[[ReceivedMessage], None] | None = None, *, delay: float = 0.0
    ) -> None:
        self.delay = delay
        """Seconds each message takes to accept: a slow relay."""
        self._lock = threading.Lock()
        self._connections = itertools.count(1)
        self._messages: list[ReceivedMessage] = []
        self._tempfail: dict[str, int] = {}
        self._reject: set[str] = set()
        self._drops: list[tuple[str, str | None]] = []
        self._refusals: dict[str, str] = {}
        self._sink = sink
        self.rcpt_attempts: Counter[str] = Counter()
        self.credentials: tuple[str, str] | None = None

    # -- scripting --------------------------------------------------------------------------
    def tempfail(self, address: str, times: int) -> None:
        """Answer 451 to RCPT for ``address`` the first ``times`` tries, then accept."""
        with self._lock:
            self._tempfail[address.lower()] = times

    def reject(self, address: str) -> None:
        """Answer 550 to RCPT for ``address`` always."""
        with self._lock:
            self._reject.add(address.lower())

    def drop_once(self, stage: str = "MAIL", reply: str | None = None) -> None:
        """At the next ``MAIL`` or end of ``DATA``: close the connection without a reply, or
        answer ``reply`` (e.g. "421 4.7.0 Too many messages") and close it."""
        if stage not in ("MAIL", "DATA"):
            raise ValueError("stage must be MAIL or DATA")
        with self._lock:
            self._drops.append((stage, reply))

    def refuse(self, stage: str, reply: str | None) -> None:
        """Answer ``reply`` (e.g. "550 5.7.1 Sender address rejected") at every ``MAIL`` or end
        of ``DATA`` from now on; None stops refusing."""
        if stage not in ("MAIL", "DATA"):
            raise ValueError("stage must be MAIL or DATA")
        with self._lock:
            if reply is None:
                self._refusals.pop(stage, None)
            else:
                self._refusals[stage] = reply

    def _refusal(self, stage: str) -> str | None:
        with self._lock:
            return self._refusals.get(stage)

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self._lock:
            return list(self._messages)

    # -- aiosmtpd hooks -----------------------------------------------------------------------
    def _dropped(self, server: Any, stage: str) -> str | None:
        """The reply to give when a drop is scripted for ``stage`` (the connection then closes)."""
        with self._lock:
            scripted = next((d for d in self._drops if d[0] == stage), None)
            if scripted is None:
                return None
            self._drops.remove(scripted)
        if scripted[1]:
            server.loop.call_soon(server.transport.close)  # after the reply is written
            return scripted[1]
        server.transport.abort()
        return "421 dropped"  # never reaches the client

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        if reply := self._dropped(server, "MAIL") or self._refusal("MAIL"):
            return reply
        if not hasattr(session, "connection_number"):
            session.connection_number = next(self._connections)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        key = address.lower()
        with self._lock:
            self.rcpt_attempts[key] += 1
            if key in self._reject:
                return f"550 5.1.1 <{address}>: mailbox unavailable"
            if self.rcpt_attempts[key] <= self._tempfail.get(key, 0):
                return f"451 4.7.1 <{address}>: try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if reply := self._dropped(server, "DATA") or self._refusal("DATA"):
            return reply
        if self.delay:
            await asyncio.sleep(self.delay)
        login = session.auth_data.decode() if isinstance(session.auth_data, bytes) else None
        message = ReceivedMessage(
            envelope.mail_from,
            tuple(envelope.rcpt_tos),
            envelope.original_content,
            session.connection_number,
            login,
        )
        with self._lock:
            self._messages.append(message)
        if self._sink:
            self._sink(message)
        return "250 2.0.0 Message accepted"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and self.credentials == (
            auth_data.login.decode(),
            auth_data.password.decode(),
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)


class _EphemeralController(Controller):
    """aiosmtpd's Controller, but port 0 works: read the bound port before the first connect."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SMTPTestServer:
    """One running server. ``security`` is "none", "starttls" (required) or "tls" (implicit)."""

    def __init__(
        self,
        *,
        security: str = "none",
        credentials: tuple[str, str] | None = None,
        port: int = 0,
        sink: Callable[[ReceivedMessage], None] | None = None,
        handler: ScriptedHandler | None = None,
    ) -> None:
        self.host = HOST
        self.security = security
        self.handler = handler or ScriptedHandler(sink)
        self.handler.credentials = credentials
        self.ca = trustme.CA()
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert(HOST, "localhost").configure_cert(server_context)
        options: dict[str, Any] = {"hostname": HOST, "port": port}
        if security == "tls":
            options["ssl_context"] = server_context
        elif security == "starttls":
            options |= {"tls_context": server_context, "require_starttls": True}
        elif security != "none":
            raise ValueError(f"unknown security {security!r}")
        if credentials:
            options |= {
                "authenticator": self.handler.authenticate,
                "auth_required": True,
                "auth_require_tls": security != "none",
            }
        self._controller = _EphemeralController(self.handler, **options)
        self.running = False

    @property
    def port(self) -> int:
        return self._controller.port

    @property
    def messages(self) -> list[ReceivedMessage]:
        return self.handler.messages

    def client_context(self) -> ssl.SSLContext:
        """A client SSL context that trusts this server's certificate."""
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    def start(self) -> SMTPTestServer:
        self._controller.start()
        self.running = True
        return self

    def stop(self) -> None:
        if self.running:
            self._controller.stop()
            self.running = False


@pytest.fixture(name="smtp_server")
def smtp_server_fixture() -> Iterator[Callable[..., SMTPTestServer]]:
    """A factory: ``smtp_server(security=..., credentials=...)`` starts a server for this test."""
    servers: list[SMTPTestServer] = []

    def start(**options: Any) -> SMTPTestServer:
        servers.append(SMTPTestServer(**options).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--security", choices=("none", "starttls", "tls"), default="none")
    parser.add_argument("--auth", metavar="USER:PASSWORD")
    parser.add_argument("--tempfail", action="append", default=[], metavar="ADDRESS=TIMES")
    parser.add_argument("--reject", action="append", default=[], metavar="ADDRESS")
    parser.add_argument("--maildir", type=Path, help="also store received mail here")
    parser.add_argument("--ca-file", type=Path, help="write the CA certificate (PEM) here")
    args = parser.parse_args(argv)
    box = mailbox.Maildir(args.maildir, create=True) if args.maildir else None
    credentials = tuple(args.auth.split(":", 1)) if args.auth else None
    server = SMTPTestServer(
        security=args.security,
        credentials=credentials,
        port=args.port,
        sink=(lambda m: box.add(m.data)) if box is not None else None,
    )
    for item in args.tempfail:
        address, _, times = item.partition("=")
        server.handler.tempfail(address, int(times or 1))
    for address in args.reject:
        server.handler.reject(address)
    if args.ca_file:
        server.ca.cert_pem.write_to_path(str(args.ca_file))
    server.start()
    print(f"PORT {server.port}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
