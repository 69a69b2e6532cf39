"""Transports against real sinks: a Maildir on disk and aiosmtpd on loopback."""

from __future__ import annotations

import email
import email.policy
import mailbox
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from aggregator.mail.transport import (
    DeliveryError,
    MaildirTransport,
    MessageRefused,
    PermanentFailure,
    RateLimiter,
    SendResult,
    SMTPTransport,
    TemporaryFailure,
    TransportUnavailable,
)
from tests.support.smtpserver import smtp_server_fixture  # noqa: F401  (registers smtp_server)

SENDER = "digest@news.example.org"


def _message(n: int) -> bytes:
    return (
        f"From: {SENDER}\r\nTo: reader{n}@example.com\r\nSubject: Digest {n}\r\n"
        f"Message-ID: <{n}@news.example.org>\r\n\r\nHello {n}\r\n.leading dot\r\n"
    ).encode()


def _smtp(server, **options) -> SMTPTransport:
    options.setdefault("security", server.security)
    if server.security != "none":
        options.setdefault("ssl_context", server.client_context())
    return SMTPTransport(server.host, server.port, timeout=5, **options)


def test_maildir_delivery_is_readable_by_mailbox(tmp_path):
    transport = MaildirTransport(tmp_path / "outbox")
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(lambda n: transport.send(SENDER, f"r{n}@example.com", _message(n)), range(40))
        )
    assert len({r.text for r in results}) == 40
    box = mailbox.Maildir(tmp_path / "outbox", create=False)
    subjects = sorted(int(m["Subject"].split()[1]) for m in box)
    assert subjects == list(range(40))
    first = box.get_bytes(results[0].text)
    assert b"\r\n" not in first
    assert first.startswith(
        b"Return-Path: <digest@news.example.org>\nDelivered-To: r0@example.com\n"
    )
    assert b"\n.leading dot\n" in first


def test_maildir_write_failure_is_temporary(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(TemporaryFailure, match="cannot write"):
        MaildirTransport(blocker / "outbox").send(SENDER, "r@example.com", _message(1))


@pytest.mark.parametrize(
    "bad", ["a@example.com\r\nRCPT TO:<x@example.com>", "<a@example.com>", "a"]
)
def test_unusable_envelope_addresses_fail_permanently(smtp_server, tmp_path, bad):
    server = smtp_server()
    for transport in (_smtp(server), MaildirTransport(tmp_path / "box")):
        with pytest.raises(PermanentFailure, match="unusable address") as failure:
            transport.send(SENDER, bad, _message(1))
        assert failure.value.stage == "envelope"
        with pytest.raises(MessageRefused, match="unusable sender address"):
            transport.send(bad, "a@example.com", _message(1))  # the operator's fault, not theirs
    assert server.messages == [] and not (tmp_path / "box").exists()


def test_smtp_delivers_and_reuses_the_connection(smtp_server):
    server = smtp_server()
    with _smtp(server) as transport:
        for n in range(3):
            result = transport.send(SENDER, f"reader{n}@example.com", _message(n))
            assert result == SendResult(f"reader{n}@example.com", 250, "2.0.0 Message accepted")
    received = server.messages
    assert [m.rcpt_tos for m in received] == [(f"reader{n}@example.com",) for n in range(3)]
    assert {m.connection for m in received} == {1}
    parsed = email.message_from_bytes(received[1].data, policy=email.policy.default)
    assert parsed["Subject"] == "Digest 1"
    assert parsed.get_content() == "Hello 1\r\n.leading dot\r\n"  # dot-stuffing undone


def test_451_is_temporary_then_succeeds(smtp_server):
    server = smtp_server()
    server.handler.tempfail("slow@example.com", 2)
    with _smtp(server) as transport:
        for _ in range(2):
            with pytest.raises(TemporaryFailure) as failure:
                transport.send(SENDER, "slow@example.com", _message(1))
            assert (failure.value.code, failure.value.stage) == (451, "RCPT TO")
            assert "try again later" in failure.value.text
            assert not isinstance(failure.value, TransportUnavailable)
        transport.send(SENDER, "slow@example.com", _message(1))
    assert [m.rcpt_tos for m in server.messages] == [("slow@example.com",)]
    assert {m.connection for m in server.messages} == {1}


def test_550_is_permanent_and_the_connection_stays_usable(smtp_server):
    server = smtp_server()
    server.handler.reject("gone@example.com")
    with _smtp(server) as transport:
        with pytest.raises(PermanentFailure) as failure:
            transport.send(SENDER, "gone@example.com", _message(1))
        assert failure.value.code == 550 and "mailbox unavailable" in str(failure.value)
        transport.send(SENDER, "here@example.com", _message(2))
    assert [(m.rcpt_tos, m.connection) for m in server.messages] == [(("here@example.com",), 1)]


def test_connection_dropped_while_idle_is_replaced_transparently(smtp_server):
    server = smtp_server()
    with _smtp(server) as transport:
        transport.send(SENDER, "a@example.com", _message(1))
        server.handler.drop_once("MAIL")
        transport.send(SENDER, "b@example.com", _message(2))
        transport.send(SENDER, "c@example.com", _message(3))
    assert [(m.rcpt_tos[0], m.connection) for m in server.messages] == [
        ("a@example.com", 1),
        ("b@example.com", 2),
        ("c@example.com", 2),
    ]


def test_421_on_a_pooled_connection_reconnects(smtp_server):
    server = smtp_server()
    with _smtp(server) as transport:
        transport.send(SENDER, "a@example.com", _message(1))
        server.handler.drop_once("MAIL", "421 4.7.0 Too many messages on this connection")
        transport.send(SENDER, "b@example.com", _message(2))
        server.handler.drop_once("DATA", "421 4.3.2 Shutting down")
        with pytest.raises(TemporaryFailure) as failure:
            transport.send(SENDER, "c@example.com", _message(3))
        assert (failure.value.code, failure.value.stage) == (421, "DATA")
        transport.send(SENDER, "d@example.com", _message(4))
    assert [(m.rcpt_tos[0], m.connection) for m in server.messages] == [
        ("a@example.com", 1),
        ("b@example.com", 2),
        ("d@example.com", 3),
    ]


def test_drop_during_data_is_temporary_and_not_retried(smtp_server):
    server = smtp_server()
    with _smtp(server) as transport:
        server.handler.drop_once("DATA")
        with pytest.raises(TemporaryFailure) as failure:
            transport.send(SENDER, "a@example.com", _message(1))
        assert failure.value.stage == "DATA" and failure.value.code is None
        transport.send(SENDER, "b@example.com", _message(2))
    assert [m.rcpt_tos[0] for m in server.messages] == ["b@example.com"]
    assert server.handler.rcpt_attempts["a@example.com"] == 1


def test_starttls_with_login(smtp_server):
    server = smtp_server(security="starttls", credentials=("digest", "s3cret"))
    with _smtp(server, username="digest", password="s3cret") as transport:
        transport.send(SENDER, "a@example.com", _message(1))
    assert [(m.rcpt_tos[0], m.login) for m in server.messages] == [("a@example.com", "digest")]


def test_wrong_password_and_untrusted_certificate_make_the_transport_unavailable(smtp_server):
    server = smtp_server(security="starttls", credentials=("digest", "s3cret"))
    with pytest.raises(TransportUnavailable) as failure:
        _smtp(server, username="digest", password="wrong").send(SENDER, "a@x.org", _message(1))
    assert (failure.value.code, failure.value.stage) == (535, "login")
    with pytest.raises(TransportUnavailable) as failure:
        SMTPTransport(server.host, server.port, timeout=5).send(SENDER, "a@x.org", _message(1))
    assert failure.value.stage == "starttls" and "CERTIFICATE_VERIFY_FAILED" in failure.value.text
    assert server.messages == []


def test_implicit_tls(smtp_server):
    server = smtp_server(security="tls")
    with _smtp(server) as transport:
        transport.send(SENDER, "a@example.com", _message(1))
    assert len(server.messages) == 1


def test_refused_connection_is_unavailable(smtp_server):
    server = smtp_server()
    port = server.port
    server.stop()
    with pytest.raises(TransportUnavailable, match=f"127.0.0.1:{port}") as failure:
        SMTPTransport("127.0.0.1", port, security="none", timeout=2).send(SENDER, "a@x.org", b"x")
    assert failure.value.stage == "connect"


def _send_all(transport, items, threads: int) -> dict:
    """Send from several threads at once, as the outbox does; recipient -> result or error."""

    def one(item):
        try:
            return item[1], transport.send(*item)
        except DeliveryError as exc:
            return item[1], exc

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return dict(pool.map(one, items))


def test_concurrent_sends_share_at_most_the_cap_of_connections(smtp_server):
    server = smtp_server()
    server.handler.reject("r3@example.com")
    items = [(SENDER, f"r{n}@example.com", _message(n)) for n in range(12)]
    with _smtp(server, concurrency=3) as transport:
        outcomes = _send_all(transport, items, threads=6)
    assert isinstance(outcomes.pop("r3@example.com"), PermanentFailure)
    assert all(isinstance(o, SendResult) for o in outcomes.values()) and len(outcomes) == 11
    assert len(server.messages) == 11
    assert 1 <= len({m.connection for m in server.messages}) <= 3


class FakeClock:
    """A clock the limiter reads and sleeps on, to test its arithmetic exactly."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_rate_limiter_spaces_calls():
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock.time, sleep=clock.sleep)
    waits = [round(limiter.acquire(), 6) for _ in range(4)]
    assert waits == [0.0, 0.1, 0.1, 0.1]
    clock.now += 5  # idle time does not bank more than one call
    assert [round(limiter.acquire(), 6) for _ in range(2)] == [0.0, 0.1]


def test_rate_limiter_allows_a_burst_then_the_rate():
    clock = FakeClock()
    limiter = RateLimiter(4, burst=3, clock=clock.time, sleep=clock.sleep)
    assert [round(limiter.acquire(), 6) for _ in range(5)] == [0.0, 0.0, 0.0, 0.25, 0.25]
    assert clock.slept == [0.25, 0.25]


def test_rate_limiter_rejects_nonsense():
    with pytest.raises(ValueError, match="rate must be positive"):
        RateLimiter(0)


def test_smtp_transport_respects_its_rate(smtp_server):
    server = smtp_server()
    with _smtp(server, rate_per_second=40, concurrency=4) as transport:
        start = time.monotonic()
        items = [(SENDER, f"r{n}@example.com", _message(n)) for n in range(9)]
        assert len(_send_all(transport, items, threads=4)) == 9
        elapsed = time.monotonic() - start
    assert elapsed >= 8 / 40 - 0.01  # 9 sends need at least 8 intervals
    assert len(server.messages) == 9


def test_server_runs_standalone(tmp_path):
    ca = tmp_path / "ca.pem"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.smtpserver", "--port", "0", "--security",
         "starttls", "--ca-file", str(ca), "--reject", "gone@example.com",
         "--maildir", str(tmp_path / "received")],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        line = process.stdout.readline()
        assert line.startswith("PORT ")
        import ssl

        context = ssl.create_default_context(cafile=str(ca))
        transport = SMTPTransport("127.0.0.1", int(line.split()[1]), ssl_context=context, timeout=5)
        with transport:
            transport.send(SENDER, "a@example.com", _message(1))
            with pytest.raises(PermanentFailure):
                transport.send(SENDER, "gone@example.com", _message(2))
    finally:
        process.terminate()
        process.wait(10)
    received = list(mailbox.Maildir(tmp_path / "received", create=False))
    assert [m["Subject"] for m in received] == ["Digest 1"]


def test_lines_starting_with_a_dot_survive_smtp(smtp_server) -> None:
    """Dot-stuffing is skipped only when no line starts with a dot; either way the mail arrives whole.

    Built digests never have such a line (a leading dot is encoded); any other message may.
    """
    import email
    import email.policy

    from aggregator.mail.message import build_message
    from aggregator.mail.transport import SMTPTransport

    server = smtp_server(security="none")
    transport = SMTPTransport("127.0.0.1", server.port, security="none", concurrency=1)
    texts = [".starts with a dot\n..two dots\nmiddle . dot\n.\nend"] * 2
    built = build_message(
        sender="digest@news.example.org",
        recipient="reader@example.com",
        subject="dots",
        text=texts[0],
        html="<p>x</p>",
        list_id="daily.news.example.org",
        unsubscribe_url="https://news.example.org/u",
    )
    plain = (
        "From: digest@news.example.org\r\nTo: reader@example.com\r\nSubject: dots\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n" + texts[1].replace("\n", "\r\n")
    ).encode()
    for raw in (built, plain):
        transport.send("digest@news.example.org", "reader@example.com", raw)
    transport.close()
    assert b"\n." not in built and b"\n." in plain  # both paths are taken
    received = [
        email.message_from_bytes(m.data, policy=email.policy.default).get_body(("plain",))
        for m in server.messages
    ]
    assert [r.get_content().replace("\r\n", "\n").rstrip("\n") for r in received] == texts
