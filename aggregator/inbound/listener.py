"""The inbound SMTP listener (aiosmtpd): mail to a newsletter source's address becomes its item.

Unknown recipients are refused at RCPT (550), so nothing is stored or relayed for them. A
message over ``mail.inbound.max_message_bytes`` is refused (552); a sender or a source over its
hourly rate is told to try later (451). DKIM is verified (dkimpy) and recorded with each mail.
Mail to a delivery's signed VERP address is a late bounce or a complaint (inbound/bounces.py);
a forged or unknown one is refused at RCPT like any unknown address.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any

import dkim
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.orm import Session as OrmSession

from aggregator.config import Settings
from aggregator.inbound.bounces import record_report
from aggregator.inbound.message import parse_mail
from aggregator.inbound.newsletters import source_for, store_mail
from aggregator.inbound.spf import spf_result
from aggregator.mail.verp import delivery_of
from aggregator.store.claims import write_transaction
from aggregator.store.db import Database
from aggregator.store.items import first_seen_now
from aggregator.store.models import utcnow
from aggregator.store.state import SharedRateLimiter

log = logging.getLogger("aggregator.inbound")
MAX_RECIPIENTS = 20
_DKIM_DOMAIN = re.compile(rb"(?:^|;)\s*d\s*=\s*([A-Za-z0-9.-]{1,253})")


def dkim_result(data: bytes, dnsfunc: Callable[..., Any] | None = None) -> tuple[str, str | None]:
    """("pass", signing domain), ("fail", domain) or ("none", None)."""
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    if b"dkim-signature" not in head.lower():
        return "none", None
    match = _DKIM_DOMAIN.search(head[head.lower().find(b"dkim-signature") :][:4096])
    domain = match.group(1).decode().lower() if match else None
    try:
        kwargs = {"dnsfunc": dnsfunc} if dnsfunc is not None else {}
        ok = dkim.verify(data, **kwargs)
    except Exception:  # a malformed signature or key, or DNS unreachable
        ok = False
    return ("pass" if ok else "fail"), domain


class InboundHandler:
    """aiosmtpd handler: RCPT and DATA checked against the store."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        secret_key: str = "",
        dnsfunc: Callable[..., Any] | None = None,
    ) -> None:
        self.db, self.settings, self.dnsfunc = db, settings, dnsfunc
        self.secret_key = secret_key
        """The installation's signing key: VERP addresses are signed with it (no key: no
        bounce address is accepted)."""
        inbound = settings.mail.inbound
        self.per_sender = SharedRateLimiter(db, inbound.per_sender_per_hour, 3600)
        self.per_source = SharedRateLimiter(db, inbound.per_source_per_hour, 3600)

    def _lookup(self, address: str) -> int | None:
        with self.db.session() as session:
            return source_for(session, address)

    def _delivery(self, address: str) -> int | None:
        """The delivery a VERP bounce address names (None: not one, or forged)."""
        inbound = self.settings.mail.inbound
        return delivery_of(address, inbound.bounce_local_part, inbound.domain, self.secret_key)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        if self.secret_key and self._delivery(address) is not None:
            envelope.rcpt_tos.append(address)
            return "250 OK"
        source_id = await asyncio.get_running_loop().run_in_executor(None, self._lookup, address)
        if source_id is None:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        data = envelope.original_content or b""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        if len(data) > self.settings.mail.inbound.max_message_bytes:
            return "552 5.3.4 Message too big"
        loop = asyncio.get_running_loop()
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer or "")
        try:
            return await loop.run_in_executor(
                None, self._accept, envelope.mail_from or "", list(envelope.rcpt_tos), data, peer
            )
        except Exception:
            log.exception("inbound mail from %r could not be stored", envelope.mail_from)
            return "451 4.3.0 Could not store the message; try again later"

    def _accept(self, mail_from: str, recipients: list[str], data: bytes, peer: str = "") -> str:
        bounced = [d for d in map(self._delivery, recipients) if d is not None]
        for delivery_id in dict.fromkeys(bounced):
            record_report(self.db, self.settings, delivery_id, data)
        recipients = [r for r in recipients if self._delivery(r) is None]
        if not recipients:
            return "250 OK"
        if self.per_sender.hit("inbound-sender:" + mail_from.lower()):
            return "451 4.7.1 Too many messages from this sender; try again later"
        now = utcnow()
        mail = parse_mail(data, now)
        verdict = dkim_result(data, self.dnsfunc)
        inbound = self.settings.mail.inbound
        spf = spf_result(data, peer, inbound.trusted_relays, inbound.relay_id)
        for source_id in dict.fromkeys(filter(None, map(self._lookup, recipients))):
            if self.per_source.hit(f"inbound-source:{source_id}"):
                log.warning(
                    "inbound mail over its hourly rate: dropped", extra={"source_id": source_id}
                )
                continue
            with write_transaction(self.db) as connection, OrmSession(bind=connection) as orm:
                stamp = first_seen_now(connection, utcnow)
                store_mail(
                    orm, source_id, mail, mail_from=mail_from, dkim=verdict, spf=spf, now=stamp
                )
                orm.commit()
            log.info(
                "inbound mail %r stored (dkim=%s, spf=%s)",
                mail.subject,
                verdict[0],
                spf,
                extra={"source_id": source_id},
            )
        return "250 OK"


def start_listener(
    db: Database,
    settings: Settings,
    *,
    secret_key: str = "",
    dnsfunc: Callable[..., Any] | None = None,
) -> Controller:
    """Start the listener in its own thread (``controller.stop()`` ends it)."""
    inbound = settings.mail.inbound
    controller = Controller(
        InboundHandler(db, settings, secret_key=secret_key, dnsfunc=dnsfunc),
        hostname=inbound.host,
        port=inbound.port,
        data_size_limit=inbound.max_message_bytes,
        ident="aggregator inbound",
    )
    controller.start()
    log.warning(
        "inbound SMTP listening on %s:%d for @%s", inbound.host, inbound.port, inbound.domain
    )
    return controller
