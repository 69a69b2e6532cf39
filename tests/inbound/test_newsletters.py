"""Newsletters as sources: a real aiosmtpd listener on loopback, a real SMTP client, real stores."""

from __future__ import annotations

import contextlib
import smtplib
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import dkim
import pytest
from aiosmtpd.controller import Controller
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from aggregator.config import Settings, from_mapping
from aggregator.inbound.listener import start_listener
from aggregator.inbound.message import parse_mail
from aggregator.inbound.newsletters import add_newsletter, latest_mails
from aggregator.ingest.poll import Poller
from aggregator.store.db import Database
from aggregator.store.models import InboundMail, Item
from tests.cli import ok, run_cli
from tests.support.dkimkeys import make_dkim_key

DOMAIN = "in.example.test"
KEY = make_dkim_key()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def inbound_settings(root: Path, database_url: str, **inbound: object) -> Settings:
    values = {"enabled": True, "port": free_port(), "domain": DOMAIN, **inbound}
    return from_mapping(
        {"database": {"url": database_url}, "mail": {"inbound": values}}, root=root, origin="test"
    )


class Inbox:
    def __init__(self, db: Database, settings: Settings, secret_key: str = "") -> None:
        self.db, self.settings = db, settings
        self.controller: Controller = start_listener(
            db, settings, secret_key=secret_key, dnsfunc=KEY.dns("s1", "news.example")
        )

    def newsletter(self, name: str) -> tuple[int, str]:
        with self.db.session() as session:
            row = add_newsletter(session, name, DOMAIN, [])
            assert row.newsletter_address is not None
            return row.id, row.newsletter_address

    def send(self, message: bytes, to: list[str], sender: str = "news@news.example") -> dict:
        with smtplib.SMTP("127.0.0.1", self.settings.mail.inbound.port, timeout=10) as client:
            return client.sendmail(sender, to, message)

    def items(self, source_id: int) -> list[Item]:
        with self.db.session() as session:
            rows = session.scalars(select(Item).where(Item.source_id == source_id)).all()
            session.expunge_all()
            return list(rows)


@pytest.fixture
def inbox(tmp_path: Path, database_url: str) -> Iterator[Inbox]:
    settings = inbound_settings(tmp_path, database_url)
    db = Database(settings.database_url)
    box = Inbox(db, settings)
    yield box
    box.controller.stop()
    db.dispose()


def newsletter_mail(
    subject: str = "Issue 12: the week in alignment",
    *,
    html: str | None = "<p>Hello <b>readers</b></p><script>alert(1)</script>",
    text: str = "Hello readers",
    date: str = "Sun, 06 Dec 2026 08:00:00 -0800",
    message_id: str = "<issue12@news.example>",
    sign: bool = False,
) -> bytes:
    message = EmailMessage()
    message["From"] = "The Weekly <weekly@news.example>"
    message["To"] = "someone@in.example.test"
    message["Subject"] = subject
    message["Date"] = date
    message["Message-ID"] = message_id
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    data = message.as_bytes()
    if sign:
        data = dkim.sign(data, b"s1", b"news.example", KEY.private_pem) + data
    return data


def test_unknown_address_is_refused_at_rcpt(inbox: Inbox) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        inbox.send(newsletter_mail(), [f"nobody@{DOMAIN}"])
    assert refused.value.recipients[f"nobody@{DOMAIN}"][0] == 550
    with inbox.db.session() as session:
        assert session.scalars(select(Item)).all() == []


def test_a_mail_becomes_one_sanitized_item_of_its_source(inbox: Inbox) -> None:
    source_id, address = inbox.newsletter("The Weekly")
    assert address.endswith("@" + DOMAIN) and len(address.split("@")[0]) == 20
    assert inbox.send(newsletter_mail(sign=True), [address]) == {}
    [item] = inbox.items(source_id)
    assert item.title == "Issue 12: the week in alignment"
    assert item.author == "The Weekly"
    assert item.published_at == datetime(2026, 12, 6, 16, 0, tzinfo=UTC)
    assert "<b>readers</b>" in item.content_html and "script" not in item.content_html
    with inbox.db.session() as session:
        [mail] = latest_mails(session, source_id)
        assert (mail.dkim, mail.dkim_domain, mail.item_id) == ("pass", "news.example", item.id)
    inbox.send(newsletter_mail(), [address])  # the same message again: stored once
    assert len(inbox.items(source_id)) == 1


def test_one_message_to_two_sources_is_stored_once_per_source(inbox: Inbox) -> None:
    first, a = inbox.newsletter("A")
    second, b = inbox.newsletter("B")
    inbox.send(newsletter_mail(html=None, text="plain <body>"), [a, b, a])
    assert [i.title for i in inbox.items(first)] == ["Issue 12: the week in alignment"]
    [item] = inbox.items(second)
    assert "plain &lt;body&gt;" in item.content_html


def test_tampered_signature_is_recorded_as_fail(inbox: Inbox) -> None:
    source_id, address = inbox.newsletter("A")
    data = newsletter_mail(sign=True).replace(b"Hello readers", b"Hello victims")
    inbox.send(data, [address])
    with inbox.db.session() as session:
        assert latest_mails(session, source_id)[0].dkim == "fail"


def test_a_date_out_of_bounds_is_not_believed(inbox: Inbox) -> None:
    source_id, address = inbox.newsletter("A")
    inbox.send(newsletter_mail(date="Fri, 31 Dec 9999 23:59:59 -1200"), [address])
    inbox.send(
        newsletter_mail(date="Tue, 01 Jan 1985 00:00:00 +0000", message_id="<2@x>"), [address]
    )
    for item in inbox.items(source_id):
        assert abs((item.published_at - item.first_seen_at).total_seconds()) < 60


def test_size_cap_and_rates(tmp_path: Path, database_url: str) -> None:
    settings = inbound_settings(
        tmp_path, database_url, max_message_bytes=2048, per_sender_per_hour=2
    )
    db = Database(settings.database_url)
    box = Inbox(db, settings)
    try:
        source_id, address = box.newsletter("A")
        with pytest.raises(smtplib.SMTPResponseException) as big:  # SIZE or DATA
            box.send(newsletter_mail(text="x" * 5000), [address])
        assert big.value.smtp_code == 552
        box.send(newsletter_mail(message_id="<1@x>"), [address])
        box.send(newsletter_mail(message_id="<2@x>"), [address])
        with pytest.raises(smtplib.SMTPDataError) as rate:
            box.send(newsletter_mail(message_id="<3@x>"), [address])
        assert rate.value.smtp_code == 451
        assert len(box.items(source_id)) == 2
    finally:
        box.controller.stop()
        db.dispose()


def test_a_newsletter_source_is_never_polled(inbox: Inbox) -> None:
    inbox.newsletter("A")
    poller = Poller(inbox.db, inbox.settings)
    assert poller.choose(due_only=True) == []


def test_cli_adds_a_newsletter_and_shows_its_mails(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[mail.inbound]\ndomain = "{DOMAIN}"\n[web]\nsecret_env = "NO_SUCH"\n')
    out = ok(run_cli(config, "sources", "add", "--newsletter", "The Weekly"))
    assert out.startswith("added newsletter source 1: The Weekly <") and f"@{DOMAIN}>" in out
    shown = ok(run_cli(config, "sources", "show", "The Weekly"))
    assert "address: " in shown and "no mail received yet" in shown


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=3000))
def test_any_bytes_parse_without_error(data: bytes) -> None:
    mail = parse_mail(data, datetime(2026, 12, 7, tzinfo=UTC))
    assert "<script" not in mail.entry.content_html
    assert len(mail.subject) <= 998


def test_the_listener_keeps_serving_after_hostile_mail(inbox: Inbox) -> None:
    source_id, address = inbox.newsletter("A")
    hostile = [
        b"Subject: " + b"A" * 100_000 + b"\r\n\r\nbody",
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n"
        + b"--x\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n" * 500,
        b"\x00\xff\xfe garbage",
        b"Date: Tue, 99 Foo 12345678901234567890 99:99:99 +9999\r\nSubject: =?utf-8?b?////?=\r\n\r\n",
    ]
    for data in hostile:
        with contextlib.suppress(smtplib.SMTPException):
            inbox.send(data, [address])
    inbox.send(newsletter_mail(), [address])
    titles = [i.title for i in inbox.items(source_id)]
    assert "Issue 12: the week in alignment" in titles
    assert all(len(t) <= 998 for t in titles)
    with inbox.db.session() as session:  # each stored mail is one item of that source
        assert len(session.scalars(select(InboundMail)).all()) == len(titles)


def test_a_source_may_require_a_dkim_signature_from_its_domain(inbox: Inbox) -> None:
    with inbox.db.session() as session:
        row = add_newsletter(session, "Signed only", DOMAIN, [], ["news.example"])
        other = add_newsletter(session, "Other signer", DOMAIN, [], ["elsewhere.example"])
        ids = (row.id, other.id)
        addresses = [row.newsletter_address or "", other.newsletter_address or ""]
    inbox.send(newsletter_mail(message_id="<unsigned@x>"), addresses[:1])
    assert inbox.items(ids[0]) == []
    inbox.send(newsletter_mail(sign=True), addresses)
    assert [i.title for i in inbox.items(ids[0])] == ["Issue 12: the week in alignment"]
    assert inbox.items(ids[1]) == []  # signed, but not by a domain it allows
    with inbox.db.session() as session:
        assert [m.dkim for m in latest_mails(session, ids[1])] == ["refused:pass"]
        assert [m.dkim for m in latest_mails(session, ids[0])] == ["pass", "refused:none"]
