"""Late bounces: DSNs and complaints sent back to a delivery's VERP address, through the real
listener; forged tokens refused; a thousand hostile messages leave it serving."""

from __future__ import annotations

import contextlib
import smtplib
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.inbound.bounces import read_report
from aggregator.mail.verp import bounce_address, delivery_of
from aggregator.model.status import DeliveryState, SubscriberStatus
from aggregator.store.db import Database
from aggregator.store.models import Delivery, DigestRun, InboundMail, Item, Subscriber
from tests.inbound.test_newsletters import DOMAIN, Inbox, inbound_settings

SECRET = "test-signing-key"


@pytest.fixture
def inbox(tmp_path: Path, database_url: str) -> Iterator[Inbox]:
    settings = inbound_settings(tmp_path, database_url)
    db = Database(settings.database_url)
    box = Inbox(db, settings, secret_key=SECRET)
    yield box
    box.controller.stop()
    db.dispose()


def sent_deliveries(db: Database, count: int) -> list[int]:
    now = datetime.now(UTC)
    with db.session() as session:
        run = DigestRun(digest_name="daily", scheduled_for=now, cutoff=now)
        session.add(run)
        rows = []
        for n in range(count):
            person = Subscriber(email=f"p{n}@example.org", status=SubscriberStatus.ACTIVE)
            session.add(person)
            session.flush()
            rows.append(Delivery(run=run, subscriber_id=person.id, state=DeliveryState.SENT))
            session.add(rows[-1])
        session.flush()
        return [r.id for r in rows]


def dsn(status: str, *, feedback: bool = False) -> bytes:
    report = EmailMessage()
    report["From"] = "MAILER-DAEMON@mx.example.org"
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report.set_content("Your message could not be delivered.")
    if feedback:
        body = "Feedback-Type: abuse\r\nUser-Agent: FBL/1.0\r\nVersion: 1\r\n"
        report.add_attachment(body.encode(), maintype="message", subtype="feedback-report")
        report.replace_header("Content-Type", report["Content-Type"].replace("mixed", "report"))
        return report.as_bytes()
    fields = (
        "Reporting-MTA: dns; mx.example.org\r\n\r\n"
        "Final-Recipient: rfc822; p0@example.org\r\n"
        f"Action: failed\r\nStatus: {status}\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
    )
    data = report.as_bytes().decode()
    boundary = "==dsn-boundary=="
    head, _, body = data.partition("\n\n")
    head = "\n".join(
        line for line in head.splitlines() if not line.lower().startswith(("content-type", "mime"))
    )
    return (
        f"{head}\nMIME-Version: 1.0\nContent-Type: multipart/report; "
        f'report-type=delivery-status; boundary="{boundary}"\n\n'
        f"--{boundary}\nContent-Type: text/plain\n\n{body}\n"
        f"--{boundary}\nContent-Type: message/delivery-status\n\n{fields}\n"
        f"--{boundary}--\n"
    ).encode()


def state(db: Database, delivery_id: int) -> tuple[str, int, str]:
    with db.session() as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None
        return row.state, row.subscriber.hard_bounces, row.subscriber.status


def to(delivery_id: int) -> str:
    return bounce_address("bounces", DOMAIN, SECRET, delivery_id)


def test_verp_addresses_are_signed_per_delivery() -> None:
    address = to(42)
    assert delivery_of(address, "bounces", DOMAIN, SECRET) == 42
    assert delivery_of(address.upper(), "bounces", DOMAIN, SECRET) == 42
    assert delivery_of(address.replace("42.", "43."), "bounces", DOMAIN, SECRET) is None
    assert delivery_of(address, "bounces", DOMAIN, "another key") is None
    assert delivery_of("bounces+42@" + DOMAIN, "bounces", DOMAIN, SECRET) is None


def test_a_hard_dsn_bounces_exactly_that_delivery(inbox: Inbox) -> None:
    first, second = sent_deliveries(inbox.db, 2)
    inbox.send(dsn("5.1.1"), [to(first)], sender="")
    assert state(inbox.db, first) == (DeliveryState.BOUNCED, 1, SubscriberStatus.ACTIVE)
    assert state(inbox.db, second) == (DeliveryState.SENT, 0, SubscriberStatus.ACTIVE)
    inbox.send(dsn("5.1.1"), [to(first)], sender="")  # the same DSN again: counted once
    assert state(inbox.db, first)[1] == 1


def test_a_soft_dsn_is_not_counted(inbox: Inbox) -> None:
    [delivery] = sent_deliveries(inbox.db, 1)
    inbox.send(dsn("4.2.2"), [to(delivery)], sender="")
    assert state(inbox.db, delivery) == (DeliveryState.SENT, 0, SubscriberStatus.ACTIVE)


def test_a_forged_token_is_refused_at_rcpt(inbox: Inbox) -> None:
    [delivery] = sent_deliveries(inbox.db, 1)
    forged = to(delivery).replace(f"+{delivery}.", f"+{delivery + 1}.")
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        inbox.send(dsn("5.1.1"), [forged], sender="")
    assert state(inbox.db, delivery)[0] == DeliveryState.SENT


def test_a_complaint_unsubscribes(inbox: Inbox) -> None:
    [delivery] = sent_deliveries(inbox.db, 1)
    assert read_report(dsn("", feedback=True))[0] == "complaint"
    inbox.send(dsn("", feedback=True), [to(delivery)], sender="")
    assert state(inbox.db, delivery)[2] == SubscriberStatus.UNSUBSCRIBED


@st.composite
def hostile_messages(draw: st.DrawFn) -> bytes:
    depth = draw(st.integers(0, 30))
    nested = "".join(
        f"--b{n}\r\nContent-Type: multipart/mixed; boundary=b{n + 1}\r\n\r\n" for n in range(depth)
    )
    status = draw(st.sampled_from(["5.1.1", "4.0.0", "9.9.9", "5.x", "", "5." + "1" * 50]))
    head = draw(st.text(max_size=200).map(lambda t: t.replace("\r", "").replace("\n", " ")))
    junk = draw(st.binary(max_size=500))
    return (
        f"Subject: {head}\r\nContent-Type: multipart/report; boundary=b0\r\n\r\n{nested}"
        f"Content-Type: message/delivery-status\r\n\r\nStatus: {status}\r\n\r\n"
    ).encode("utf-8", "replace") + junk


@settings(
    max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(hostile_messages(), st.booleans())
def test_hostile_inbound_messages_store_nothing_wrong(
    inbox: Inbox, data: bytes, signed: bool
) -> None:
    if not hasattr(inbox, "deliveries"):
        inbox.deliveries = sent_deliveries(inbox.db, 1)  # type: ignore[attr-defined]
    delivery = inbox.deliveries[0]  # type: ignore[attr-defined]
    recipient = to(delivery) if signed else to(delivery)[:-1] + "x"
    with contextlib.suppress(smtplib.SMTPException):
        inbox.send(data, [recipient], sender="")
    with inbox.db.session() as session:
        assert session.query(Item).count() == 0
        assert session.query(InboundMail).count() == 0
        row = session.get(Delivery, delivery)
        assert row is not None and row.subscriber.hard_bounces <= 1
        assert row.subscriber.status == SubscriberStatus.ACTIVE


def test_the_outbox_sends_from_the_verp_address_only_while_the_listener_is_on(
    tmp_path: Path, database_url: str
) -> None:
    from aggregator.digest.outbox import Outbox

    for enabled, expected in ((True, to(7)), (False, "digest@example.org")):
        settings = inbound_settings(tmp_path / str(enabled), database_url, enabled=enabled)
        db = Database(settings.database_url)
        try:
            outbox = Outbox(db, settings, secret_key=SECRET)
            assert outbox._envelope_sender("digest@example.org", 7) == expected
        finally:
            db.dispose()
