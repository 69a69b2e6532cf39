"""Newsletter sources: an address each, and the mails they received stored as their items."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from aggregator.inbound.message import Newsletter
from aggregator.model.status import SourceOrigin, SourceStatus
from aggregator.store.items import store_entries
from aggregator.store.models import InboundMail, Source


def new_address(domain: str) -> str:
    """An address nobody can guess: 20 random lowercase letters and digits at ``domain``."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(20)) + "@" + domain.lower()


def add_newsletter(
    session: Session, name: str, domain: str, tags: list[str], dkim_domains: Sequence[str] = ()
) -> Source:
    """A new newsletter source named ``name`` with its own address (never polled); with
    ``dkim_domains``, it takes only mail those domains signed."""
    address = new_address(domain)
    row = Source(
        url=f"mailto:{address}",
        origin=SourceOrigin.CLI,
        name=name,
        feed_title=name,
        tags=[t.lower() for t in tags],
        newsletter_address=address,
        dkim_domains=[d.strip().lower().strip(".") for d in dkim_domains if d.strip()],
    )
    session.add(row)
    session.flush()
    return row


def source_for(session: Session, address: str) -> int | None:
    """The enabled newsletter source of ``address``, if any."""
    return session.scalar(
        select(Source.id).where(
            Source.newsletter_address == address.strip().lower()[:320],
            Source.enabled.is_(True),
            Source.status == SourceStatus.ACTIVE,
        )
    )


def store_mail(
    session: Session,
    source_id: int,
    mail: Newsletter,
    *,
    mail_from: str,
    dkim: tuple[str, str | None],
    now: datetime,
    spf: str = "none",
) -> int | None:
    """Store the mail as an item of the source (once: its Message-ID is the key) and note it
    among the source's latest mails; returns the new item's id, None when it was stored before."""
    source = session.get(Source, source_id)
    if source is None:
        return None
    if not dkim_allows(source.dkim_domains, dkim):
        session.add(_noted(source_id, mail, mail_from, dkim, now, spf=spf, refused=True))
        return None
    stored = store_entries(session, source, [mail.entry], now)
    item_id = stored.new_ids[0] if stored.new_ids else None
    if item_id is not None:
        source.last_new_at = now
    session.add(_noted(source_id, mail, mail_from, dkim, now, spf=spf, item_id=item_id))
    return item_id


def dkim_allows(domains: list[str], dkim: tuple[str, str | None]) -> bool:
    """Whether a mail with this DKIM result may be stored by a source requiring ``domains``."""
    if not domains:
        return True
    verdict, signer = dkim
    return verdict == "pass" and any(
        signer == d or (signer or "").endswith("." + d) for d in domains
    )


def _noted(
    source_id: int,
    mail: Newsletter,
    mail_from: str,
    dkim: tuple[str, str | None],
    now: datetime,
    *,
    spf: str = "none",
    item_id: int | None = None,
    refused: bool = False,
) -> InboundMail:
    return InboundMail(
        source_id=source_id,
        received_at=now,
        mail_from=mail_from[:320],
        from_header=mail.from_header,
        subject=mail.subject,
        message_id=mail.message_id,
        dkim=("refused:" if refused else "") + dkim[0],
        dkim_domain=dkim[1],
        spf=spf,
        item_id=item_id,
    )


def latest_mails(session: Session, source_id: int, limit: int = 20) -> list[InboundMail]:
    """The source's latest mails, newest first (confirmation mails among them)."""
    return list(
        session.scalars(
            select(InboundMail)
            .where(InboundMail.source_id == source_id)
            .order_by(InboundMail.received_at.desc(), InboundMail.id.desc())
            .limit(limit)
        )
    )
