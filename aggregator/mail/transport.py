"""Deliver finished messages: into a Maildir, or over SMTP with a small connection pool.

Both transports share one interface: ``send(envelope_from, recipient, message) -> SendResult``,
raising :class:`TemporaryFailure` (retry later) or :class:`PermanentFailure` (give up) with the
SMTP code and text. ``send`` is thread-safe: the outbox calls it from a few worker threads and
commits each outcome before the worker sends again.
"""

from __future__ import annotations

import contextlib
import mailbox
import re
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from aggregator.config import Settings

Security = Literal["starttls", "tls", "none"]
_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


@dataclass(frozen=True, slots=True)
class SendResult:
    """An accepted message: the server's reply, or the Maildir key."""

    recipient: str
    code: int
    text: str


class DeliveryError(Exception):
    """A message was not accepted. ``code`` is the SMTP reply code when there was one."""

    def __init__(self, recipient: str, code: int | None, text: str, stage: str) -> None:
        self.recipient, self.code, self.text, self.stage = recipient, code, text, stage
        reply = f"{code} {text}" if code else text
        super().__init__(f"{stage} for {recipient} failed: {reply}")


class TemporaryFailure(DeliveryError):
    """Try again later: a 4xx reply, a dropped connection or a timeout."""


class PermanentFailure(DeliveryError):
    """Do not retry: a 5xx reply to ``RCPT TO``, or an unusable recipient address: the
    recipient's fault, the one failure that counts as a bounce."""


class MessageRefused(TemporaryFailure):
    """The server refused the sender or the message (5xx at ``MAIL FROM`` or ``DATA``), or the
    sender address is unusable: a relay or configuration fault, never the recipient's. Retried
    with backoff like any temporary failure, and nobody's bounce."""

    @property
    def by_relay(self) -> bool:
        """The relay said no (rather than our own check of the sender or the message)."""
        return self.code is not None and self.stage in _REFUSED_WHAT

    def __str__(self) -> str:
        if not self.by_relay:
            return super().__str__()
        return f"relay refused {_REFUSED_WHAT[self.stage]}: {self.code} {self.text}"


_REFUSED_WHAT = {"MAIL FROM": "the sender", "DATA": "the message"}


class TransportUnavailable(TemporaryFailure):
    """The server could not be used at all (connect, TLS or login failed): no recipient's fault."""


def _failure(recipient: str, code: int, text: str, stage: str) -> DeliveryError:
    """The failure a reply ``code`` at ``stage`` means: only a 5xx to RCPT TO is the recipient's."""
    if not 500 <= code < 600:
        return TemporaryFailure(recipient, code, text, stage)
    kind = PermanentFailure if stage == "RCPT TO" else MessageRefused
    return kind(recipient, code, text, stage)


def _unusable(address: str) -> bool:
    return (
        "@" not in address
        or len(address) > 254
        or any(ord(c) <= 32 or c in "<>\x7f" for c in address)
    )


def check_envelope(envelope_from: str, recipient: str) -> None:
    """Refuse envelope addresses that are not plain ``local@domain`` text: MessageRefused for
    the sender (the operator's), PermanentFailure for the recipient."""
    if _unusable(envelope_from):
        text = f"unusable sender address {envelope_from[:80]!r}"
        raise MessageRefused(recipient, None, text, "envelope")
    if _unusable(recipient):
        raise PermanentFailure(recipient, None, f"unusable address {recipient[:80]!r}", "envelope")


class Transport:
    """The common interface; subclasses implement :meth:`send`."""

    concurrency = 1

    def send(self, envelope_from: str, recipient: str, message: bytes) -> SendResult:
        """Deliver one message, or raise TemporaryFailure / PermanentFailure."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections; the transport can still be used afterwards."""

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MaildirTransport(Transport):
    """Writes each message into a Maildir (``new/``), readable by ``mailbox`` and mail clients."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._box: mailbox.Maildir | None = None

    def send(self, envelope_from: str, recipient: str, message: bytes) -> SendResult:
        check_envelope(envelope_from, recipient)
        data = message.replace(b"\r\n", b"\n")
        envelope = f"Return-Path: <{envelope_from}>\nDelivered-To: {recipient}\n".encode()
        try:
            with self._lock:  # mailbox's unique-name counter is not thread-safe
                if self._box is None:
                    self._box = mailbox.Maildir(self.path, create=True)
                key = self._box.add(envelope + data)
        except OSError as exc:
            text = f"cannot write {self.path}: {exc}"
            raise TemporaryFailure(recipient, None, text, "maildir") from None
        return SendResult(recipient, 250, key)


class RateLimiter:
    """Spaces calls to at most ``rate`` per second (bursts of ``burst``); thread-safe."""

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.interval = 1.0 / rate
        self.burst = burst
        self._clock, self._sleep = clock, sleep
        self._next = float("-inf")  # theoretical arrival time of the next call (GCRA)
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for a slot; return how long this call waited."""
        with self._lock:
            now = self._clock()
            start = max(self._next, now)
            wait = max(0.0, start - now - (self.burst - 1) * self.interval)
            self._next = start + self.interval
        if wait > 0:
            self._sleep(wait)
        return wait


class SMTPTransport(Transport):
    """smtplib over a pool of at most ``concurrency`` reused connections.

    A pooled connection the server dropped (or closes with 421) before DATA is replaced and the
    send retried once, as nothing was accepted yet. A drop after the message data went out is a TemporaryFailure: the server may
    or may not have kept it, and the caller decides.
    """

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        security: Security = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        concurrency: int = 4,
        rate_per_second: float | None = None,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        if security not in _DEFAULT_PORTS:
            raise ValueError(f"security must be starttls, tls or none, not {security!r}")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.host, self.port = host, port or _DEFAULT_PORTS[security]
        self.security = security
        self.username, self.password = username, password
        self.timeout = timeout
        self.concurrency = concurrency
        self.local_hostname = local_hostname
        self._context = ssl_context or tls_context()
        self._limiter = RateLimiter(rate_per_second) if rate_per_second else None
        self._slots = threading.BoundedSemaphore(concurrency)
        self._idle: list[smtplib.SMTP] = []
        self._lock = threading.Lock()

    def _connect(self, recipient: str) -> smtplib.SMTP:
        stage = "connect"
        try:
            if self.security == "tls":
                conn: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    self.local_hostname,
                    timeout=self.timeout,
                    context=self._context,
                )
            else:
                conn = smtplib.SMTP(self.host, self.port, self.local_hostname, timeout=self.timeout)
            conn.ehlo()
            if self.security == "starttls":
                stage = "starttls"
                conn.starttls(context=self._context)
                conn.ehlo()
            if self.username:
                stage = "login"
                conn.login(self.username, self.password or "")
            return conn
        except smtplib.SMTPResponseException as exc:
            text = _text(exc.smtp_error)
            raise TransportUnavailable(recipient, exc.smtp_code, text, stage) from None
        except (smtplib.SMTPException, OSError) as exc:
            where = f"{self.host}:{self.port}"
            raise TransportUnavailable(recipient, None, f"{where}: {exc}", stage) from None

    def send(self, envelope_from: str, recipient: str, message: bytes) -> SendResult:
        check_envelope(envelope_from, recipient)
        if self._limiter:
            self._limiter.acquire()
        with self._slots:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            reused = conn is not None
            if conn is None:
                conn = self._connect(recipient)
            while True:
                try:
                    result = self._transaction(conn, envelope_from, recipient, message)
                except _Dropped as drop:
                    _discard(conn)
                    if not reused or drop.stage == "DATA":  # DATA: the server may have kept it
                        raise TemporaryFailure(
                            recipient, drop.code, drop.text, drop.stage
                        ) from None
                    conn, reused = self._connect(recipient), False  # stale idle one: retry once
                    continue
                except DeliveryError:
                    self._release(conn)
                    raise
                self._release(conn)
                return result

    def _transaction(
        self, conn: smtplib.SMTP, envelope_from: str, recipient: str, message: bytes
    ) -> SendResult:
        stage = "MAIL FROM"
        try:
            # check_envelope passed both addresses: no need for smtplib's address parsing.
            code, reply = conn.docmd("mail", f"FROM:<{envelope_from}>")
            if code == 250:
                stage = "RCPT TO"
                code, reply = conn.docmd("rcpt", f"TO:<{recipient}>")
            if code in (250, 251):
                stage = "DATA"
                code, reply = _data(conn, message)
            if code == 250:
                return SendResult(recipient, code, reply.decode(errors="replace"))
        except smtplib.SMTPResponseException as exc:  # DATA refused before the body was sent
            code, reply = exc.smtp_code, _bytes(exc.smtp_error)
        except OSError as exc:  # includes SMTPServerDisconnected and timeouts
            raise _Dropped(stage, None, str(exc) or "connection dropped") from None
        text = reply.decode(errors="replace")
        if code == 421:  # the server is closing this connection
            raise _Dropped(stage, code, text)
        try:
            conn.rset()
        except OSError:
            _discard(conn)  # closed connections are not returned to the pool
        raise _failure(recipient, code, text, stage)

    def _release(self, conn: smtplib.SMTP) -> None:
        if conn.sock is not None:  # smtplib clears sock when the connection is closed
            with self._lock:
                self._idle.append(conn)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                _discard(conn)


def _data(conn: smtplib.SMTP, message: bytes) -> tuple[int, bytes]:
    """smtplib's ``data()`` for CRLF bytes, dot-stuffing only when a line starts with a dot.

    smtplib runs a regular expression over every message (0.3 ms for a 65 KB digest); our
    messages never have such a line (their bodies encode a leading dot as ``=2E``), and a
    literal search finds that out twenty times faster.
    """
    conn.putcmd("data")
    code, reply = conn.getreply()
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    if message.startswith(b".") or _DOT_AFTER_NEWLINE.search(message):
        message = _LEADING_DOT.sub(b"..", message)
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    conn.send(message + b".\r\n")
    return conn.getreply()


_LEADING_DOT = re.compile(rb"(?m)^\.")
_DOT_AFTER_NEWLINE = re.compile(rb"\n\.")  # the same lines, found 3x faster than with ``in``


class _Dropped(Exception):
    """The connection is gone (or closing, 421) during ``stage``."""

    def __init__(self, stage: str, code: int | None, text: str) -> None:
        super().__init__(text)
        self.stage, self.code, self.text = stage, code, text


def _discard(conn: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        conn.close()


def transport_for(settings: Settings) -> Transport:
    """The configured transport: a Maildir folder (default) or an SMTP pool."""
    mail = settings.mail
    if mail.transport == "maildir":
        return MaildirTransport(settings.path(mail.maildir))
    smtp = mail.smtp
    return SMTPTransport(
        smtp.host,
        smtp.port,
        security=smtp.security,
        username=smtp.username or None,
        password=settings.secret(smtp.password_env),
        timeout=smtp.timeout_seconds,
        concurrency=smtp.concurrency,
        rate_per_second=smtp.rate_per_second or None,
        ssl_context=tls_context(settings.path(smtp.ca_file) if smtp.ca_file else None),
    )


def tls_context(ca_file: Path | None = None) -> ssl.SSLContext:
    """The system's trust store, plus the certificates in ``ca_file`` for this context only.

    A private CA trusted this way verifies one SMTP server; nothing else in the process (feed
    fetching, WebSub, the LLM) trusts it, as it would through ``SSL_CERT_FILE``.
    """
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=ca_file)
    return context


def _text(reply: bytes | str) -> str:
    """An SMTP reply as text (smtplib gives bytes, or str for replies it makes up itself)."""
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


def _bytes(reply: bytes | str) -> bytes:
    return reply if isinstance(reply, bytes) else reply.encode()
