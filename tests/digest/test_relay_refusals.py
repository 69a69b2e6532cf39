"""A relay that refuses the sender or the message is not the subscribers' fault: nobody bounces,
nobody is suspended, the mail is retried with backoff and arrives once the relay accepts it.
Only a refusal at RCPT TO bounces, and only that recipient. Against a real aiosmtpd server."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from aggregator.digest.outbox import Outbox
from aggregator.mail.transport import (
    MessageRefused,
    PermanentFailure,
    SMTPTransport,
    check_envelope,
)
from aggregator.store.db import Database
from aggregator.store.deliveries import Requeued, requeue
from aggregator.store.models import Delivery, DigestRun, Subscriber
from tests.digest.test_outbox import T0, Clock, add_stories, make_settings, outbox_for, subscribe
from tests.support.smtpserver import SMTPTestServer

REFUSALS = [
    ("MAIL", "550 5.7.1 <digest@example.org>: Sender address rejected"),
    ("MAIL", "553 5.1.8 Domain of sender address does not exist"),
    ("DATA", "554 5.7.1 Message content rejected"),
    ("DATA", "552 5.3.4 Message too big"),
]
NAMES = ("a", "b", "c")


def _one_run(db: Database, tmp_path: Path, server: SMTPTestServer) -> tuple[Outbox, Clock]:
    """One story, the three NAMES subscribed (suspended at the first bounce), a run queued."""
    settings = make_settings(tmp_path, bounce_threshold=1)
    clock = Clock(T0 + timedelta(hours=1))
    add_stories(db, settings, T0, ["Story"])
    for name in NAMES:
        subscribe(db, f"{name}@example.com")
    outbox = outbox_for(db, settings, server, clock)
    outbox.start_run("daily", T0 + timedelta(hours=1))
    return outbox, clock


def _subscribers(db: Database) -> list[Subscriber]:
    with db.session() as session:
        return list(session.scalars(select(Subscriber).order_by(Subscriber.email)))


@pytest.mark.parametrize(("stage", "reply"), REFUSALS)
def test_refused_sender_or_message_bounces_nobody_and_is_retried(
    db: Database, tmp_path: Path, smtp_server, caplog, stage: str, reply: str
) -> None:
    server = smtp_server(security="none")
    server.handler.refuse(stage, reply)
    outbox, clock = _one_run(db, tmp_path, server)
    with caplog.at_level(logging.WARNING, logger="aggregator"):
        report = outbox.deliver()
    assert (report.sent, report.bounced, report.retried) == (0, 0, 3)
    assert report.transport_failures == 3
    assert [r.levelno for r in caplog.records if "delivery=" in r.getMessage()] == [
        logging.ERROR
    ] * 3
    assert all(s.status == "active" and s.hard_bounces == 0 for s in _subscribers(db))
    with db.session() as session:
        states = {d.state for d in session.scalars(select(Delivery))}
    assert states == {"rendered"}

    server.handler.refuse(stage, None)  # the operator mends the relay
    clock.advance(minutes=1, seconds=1)
    assert outbox.deliver().sent == 3
    assert sorted(m.rcpt_tos[0] for m in server.messages) == [f"{n}@example.com" for n in NAMES]


def test_refusal_at_rcpt_still_bounces_only_that_recipient(
    db: Database, tmp_path: Path, smtp_server
) -> None:
    server = smtp_server(security="none")
    server.handler.reject("b@example.com")
    outbox, _clock = _one_run(db, tmp_path, server)
    report = outbox.deliver()
    assert (report.sent, report.bounced, report.transport_failures) == (2, 1, 0)
    status = {s.email: (s.status, s.hard_bounces) for s in _subscribers(db)}
    assert status == {
        "a@example.com": ("active", 0),
        "b@example.com": ("suspended", 1),
        "c@example.com": ("active", 0),
    }


@pytest.mark.parametrize(("stage", "reply"), REFUSALS)
def test_transport_names_a_refused_sender_or_message(smtp_server, stage: str, reply: str) -> None:
    server = smtp_server(security="none")
    server.handler.refuse(stage, reply)
    transport = SMTPTransport("127.0.0.1", server.port, security="none")
    with transport, pytest.raises(MessageRefused) as failure:
        transport.send("digest@example.org", "a@example.com", b"Subject: x\r\n\r\nx\r\n")
    assert not isinstance(failure.value, PermanentFailure)
    assert failure.value.stage == ("MAIL FROM" if stage == "MAIL" else "DATA")
    assert failure.value.code == int(reply[:3])


def test_unusable_sender_address_is_not_the_recipients_fault() -> None:
    with pytest.raises(MessageRefused):
        check_envelope("not an address", "a@example.com")
    with pytest.raises(PermanentFailure):
        check_envelope("digest@example.org", "not an address")


def test_requeue_sends_only_the_latest_edition_each_subscriber_missed(
    db: Database, tmp_path: Path, smtp_server
) -> None:
    settings = make_settings(tmp_path, max_attempts=1)
    server = smtp_server(security="none")
    server.handler.refuse("MAIL", "550 5.7.1 Sender address rejected")
    clock = Clock(T0 + timedelta(hours=1))
    add_stories(db, settings, T0, ["First story"])
    for name in ("a", "b"):
        subscribe(db, f"{name}@example.com")
    outbox = outbox_for(db, settings, server, clock)
    for day in range(3):  # three editions, each failed for everyone
        clock.advance(minutes=60 * 24)
        add_stories(db, settings, clock() - timedelta(hours=1), [f"Story of day {day}"])
        outbox.start_run("daily", clock())
        assert outbox.deliver().failed == 2
    server.handler.refuse("MAIL", None)

    done = requeue(db, run_id=None)
    assert (done.requeued, done.superseded) == (2, 4)
    clock.now = datetime.now(UTC) + timedelta(seconds=1)  # requeue dates its rows by the wall clock
    assert outbox.deliver().sent == 2
    received = sorted(m.rcpt_tos[0] for m in server.messages)
    assert received == ["a@example.com", "b@example.com"]
    with db.session() as session:
        latest = session.scalar(select(func.max(DigestRun.id)))
        sent = session.scalars(select(Delivery.run_id).where(Delivery.state == "sent")).all()
    assert set(sent) == {latest}
    assert requeue(db, run_id=None) == Requeued(0, 4)  # the old ones stay as they are
