"""VERP through a full send: the outbox mails a digest through a real SMTP server with the
inbound listener configured; each delivery's envelope sender is its own signed bounce address,
and a DSN sent back to one of them bounces exactly that subscriber's delivery."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from aggregator.mail.verp import delivery_of
from aggregator.model.status import DeliveryState, SubscriberStatus
from aggregator.store.db import Database
from aggregator.store.models import Delivery, Subscriber
from tests.digest.test_outbox import T0, Clock, add_stories, make_settings, outbox_for, subscribe
from tests.inbound.test_bounces import dsn
from tests.inbound.test_newsletters import DOMAIN, Inbox, free_port

SECRET = "test-secret"  # the key outbox_for signs with
VERP = re.compile(r"bounces\+([0-9]+)\.[0-9a-f]{16}@" + re.escape(DOMAIN))


def test_a_digest_goes_out_from_verp_and_its_dsn_bounces_that_delivery(
    db: Database, tmp_path: Path, smtp_server
) -> None:
    inbound = {"enabled": True, "host": "127.0.0.1", "port": free_port(), "domain": DOMAIN}
    settings = make_settings(tmp_path, inbound=inbound)
    inbox = Inbox(db, settings, secret_key=SECRET)
    try:
        server = smtp_server(security="none")
        clock = Clock(T0)
        add_stories(db, settings, T0 - timedelta(hours=3), ["Toolkit ships", "Second story"])
        first = subscribe(db, "first@example.com")
        second = subscribe(db, "second@example.com")
        outbox = outbox_for(db, settings, server, clock)
        clock.advance(hours=1, minutes=5)
        assert outbox.start_run("daily", T0 + timedelta(hours=1)) is not None
        report = outbox.deliver()
        assert report.sent == 2 and not report.errors

        with db.session() as session:
            rows = session.scalars(select(Delivery)).all()
            delivery_for = {row.subscriber_id: row.id for row in rows}
        sender_of = {}
        for message in server.messages:
            match = VERP.fullmatch(message.mail_from)
            assert match, message.mail_from  # MAIL FROM is bounces+<token>@<domain>
            [recipient] = message.rcpt_tos
            sender_of[recipient] = message.mail_from
            delivery = delivery_of(message.mail_from, "bounces", DOMAIN, SECRET)
            assert delivery is not None and int(match.group(1)) == delivery
        assert sender_of["first@example.com"] != sender_of["second@example.com"]
        assert (
            delivery_of(sender_of["first@example.com"], "bounces", DOMAIN, SECRET)
            == (delivery_for[first])
        )

        # the remote MTA's DSN comes back to the envelope sender, with a null reverse path
        inbox.send(dsn("5.1.1"), [sender_of["first@example.com"]], sender="")
        with db.session() as session:
            bounced = session.get(Delivery, delivery_for[first])
            kept = session.get(Delivery, delivery_for[second])
            assert bounced is not None and kept is not None
            assert bounced.state == DeliveryState.BOUNCED
            assert "5.1.1" in (bounced.last_error or "")
            assert kept.state == DeliveryState.SENT
            people = {s.id: s for s in session.scalars(select(Subscriber))}
            assert people[first].hard_bounces == 1 and people[second].hard_bounces == 0
            assert people[second].status == SubscriberStatus.ACTIVE
    finally:
        inbox.controller.stop()
