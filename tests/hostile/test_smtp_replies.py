"""Fuzzing the SMTP transport with the replies a scripted loopback server gives at every command
(greeting, EHLO, MAIL, RCPT, DATA, end of data), bounded by Hypothesis.

Whatever the server says, ``send`` returns a SendResult or raises a DeliveryError, and only a
5xx to RCPT TO is a PermanentFailure (the one failure that bounces a subscriber).
"""

from __future__ import annotations

import os
import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aggregator.mail.transport import (
    DeliveryError,
    MessageRefused,
    PermanentFailure,
    SendResult,
    SMTPTransport,
)

STAGES = ("greeting", "EHLO", "MAIL", "RCPT", "DATA", "end")
FUZZ = settings(
    max_examples=int(os.environ.get("AGGREGATOR_FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
GOOD = {"greeting": b"220 hi", "EHLO": b"250 hi", "MAIL": b"250 ok", "RCPT": b"250 ok"}
GOOD |= {"DATA": b"354 go", "end": b"250 queued"}


class _Scripted(socketserver.StreamRequestHandler):
    """Answers each command with the scripted reply for its stage; closes on an empty one."""

    timeout = 5

    def handle(self) -> None:
        script: dict[str, bytes] = self.server.script  # type: ignore[attr-defined]
        if not self._say(script["greeting"]):
            return
        in_data = False
        for line in self.rfile:
            if in_data:
                if line == b".\r\n":
                    in_data = False
                    if not self._say(script["end"]):
                        return
                continue
            verb = line[:4].upper()
            stage = {b"EHLO": "EHLO", b"MAIL": "MAIL", b"RCPT": "RCPT", b"DATA": "DATA"}.get(verb)
            if stage is None:  # RSET, QUIT, NOOP, HELO
                if not self._say(b"221 bye" if verb == b"QUIT" else b"250 ok"):
                    return
                continue
            reply = script[stage]
            if not self._say(reply):
                return
            in_data = stage == "DATA" and reply.startswith(b"354")

    def _say(self, reply: bytes) -> bool:
        if not reply:
            return False  # drop the connection without a reply
        self.wfile.write(reply + b"\r\n")
        return True


@pytest.fixture
def scripted() -> Iterator[socketserver.ThreadingTCPServer]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Scripted)
    server.daemon_threads = True
    server.script = dict(GOOD)  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _send(server: socketserver.ThreadingTCPServer) -> SendResult | DeliveryError:
    port = server.server_address[1]
    transport = SMTPTransport("127.0.0.1", port, security="none", timeout=5)
    try:
        with transport:
            return transport.send("digest@example.org", "a@example.com", b"Subject: x\r\n\r\nx\r\n")
    except DeliveryError as exc:
        return exc


_CODE = st.one_of(
    st.sampled_from(["220", "250", "251", "354", "421", "451", "550", "552", "554", "999", "000"]),
    st.text("0123456789", min_size=0, max_size=25),
    st.sampled_from(["abc", "²50", "-1", "", "250-more", "5.7.1"]),
)
_TEXT = st.one_of(
    st.text(max_size=60).map(lambda t: t.replace("\r", " ").replace("\n", " ")),
    st.binary(max_size=40).map(
        lambda b: b.replace(b"\r", b" ").replace(b"\n", b" ").decode("latin-1")
    ),
)
_REPLY = st.one_of(
    st.tuples(_CODE, _TEXT).map(lambda r: f"{r[0]} {r[1]}".encode("utf-8", "replace")),
    st.just(b""),  # the connection drops
    st.binary(max_size=50).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
)


def _code(reply: bytes) -> int | None:
    head = reply[:3]
    return int(head) if len(head) == 3 and head.isdigit() and head.isascii() else None


@FUZZ
@given(stage=st.sampled_from(STAGES), reply=_REPLY)
@example(stage="MAIL", reply=b"550 5.7.1 Sender address rejected")
@example(stage="end", reply=b"554 5.7.1 Message content rejected")
@example(stage="RCPT", reply=b"550 5.1.1 No such user")
@example(stage="greeting", reply=b"554 go away")
@example(stage="EHLO", reply="250 \u00e9\u00e8".encode())
@example(stage="DATA", reply=b"999 what")
@example(stage="RCPT", reply=b"99999999999999999999 big")
def test_any_reply_at_any_command_is_a_result_or_a_delivery_error(
    scripted: socketserver.ThreadingTCPServer, stage: str, reply: bytes
) -> None:
    scripted.script = {**GOOD, stage: reply}  # type: ignore[attr-defined]
    outcome = _send(scripted)
    if isinstance(outcome, PermanentFailure):
        assert stage == "RCPT" and outcome.stage == "RCPT TO", outcome
        assert 500 <= (_code(reply) or 0) < 600
    if stage == "RCPT" and (_code(reply) or 0) in range(500, 600):
        assert isinstance(outcome, PermanentFailure)
    if stage in ("MAIL", "end") and (_code(reply) or 0) in range(500, 600):
        assert isinstance(outcome, MessageRefused)
    if isinstance(outcome, SendResult):  # accepted: the scripted reply was no refusal
        assert stage == "EHLO" or (_code(reply) or 999) < 400, outcome


def test_a_greeting_that_never_comes_is_a_delivery_error() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        port = listener.getsockname()[1]
        transport = SMTPTransport("127.0.0.1", port, security="none", timeout=0.5)
        with pytest.raises(DeliveryError):
            transport.send("digest@example.org", "a@example.com", b"Subject: x\r\n\r\nx\r\n")
    finally:
        listener.close()
