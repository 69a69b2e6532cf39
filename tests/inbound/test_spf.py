"""SPF results taken from the trusted relay in front: its topmost header only, never a forged one
below it, never from an untrusted peer; recorded with each mail through the real listener."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from aggregator.config import ConfigError
from aggregator.inbound.spf import RESULTS, spf_result
from aggregator.store.db import Database
from aggregator.store.models import InboundMail
from tests.inbound.test_newsletters import Inbox, inbound_settings, newsletter_mail

RELAY = ["127.0.0.1/32", "2001:db8::/32"]
AR = b"Authentication-Results: mx.example.test; spf=pass smtp.mailfrom=news.example\r\n"
RSPF = (
    b"Received-SPF: Softfail (mailfrom) identity=mailfrom; client-ip=192.0.2.7; "
    b"helo=x; envelope-from=news@news.example; receiver=mx.example.test\r\n"
)
FORGED = b"Authentication-Results: mx.example.test; spf=pass\r\n"


def test_the_relays_topmost_header_is_taken_from_a_trusted_peer_only() -> None:
    mail = AR + newsletter_mail()
    assert spf_result(mail, "127.0.0.1", RELAY) == "pass"
    assert spf_result(mail, "2001:db8::25", RELAY, "mx.example.test") == "pass"
    assert spf_result(mail, "192.0.2.9", RELAY) == "none"  # not through the relay
    assert spf_result(mail, "127.0.0.1", []) == "none"  # no relay trusted
    assert spf_result(mail, "not an address", RELAY) == "none"
    assert spf_result(RSPF + newsletter_mail(), "127.0.0.1", RELAY, "mx.example.test") == "softfail"


def test_a_header_that_came_with_the_mail_is_not_believed() -> None:
    relay_said = b"Authentication-Results: mx.example.test; spf=fail smtp.mailfrom=x\r\n"
    assert spf_result(relay_said + FORGED + newsletter_mail(), "127.0.0.1", RELAY) == "fail"
    other = b"Authentication-Results: elsewhere.example; spf=pass\r\n"
    assert spf_result(other + newsletter_mail(), "127.0.0.1", RELAY, "mx.example.test") == "none"
    assert spf_result(
        b"Authentication-Results: mx.example.test; spf=bogus\r\n", "127.0.0.1", RELAY
    ) == ("none")


@given(st.binary(max_size=2000))
def test_any_bytes_give_a_known_result(data: bytes) -> None:
    assert spf_result(AR + data, "127.0.0.1", RELAY) in RESULTS
    assert spf_result(data, "127.0.0.1", RELAY, "mx.example.test") in RESULTS


@pytest.fixture
def relayed(tmp_path: Path, database_url: str) -> Iterator[Inbox]:
    settings = inbound_settings(
        tmp_path, database_url, trusted_relays=["127.0.0.1/32"], relay_id="mx.example.test"
    )
    db = Database(settings.database_url)
    box = Inbox(db, settings)
    yield box
    box.controller.stop()
    db.dispose()


def test_each_mail_records_the_relays_spf_result(relayed: Inbox) -> None:
    source_id, address = relayed.newsletter("The Weekly")
    relayed.send(AR + newsletter_mail(message_id="<a@x>"), [address])
    relayed.send(RSPF + newsletter_mail(message_id="<b@x>"), [address])
    relayed.send(newsletter_mail(message_id="<c@x>"), [address])
    with relayed.db.session() as session:
        rows = session.scalars(select(InboundMail).order_by(InboundMail.id)).all()
        assert [(m.message_id, m.spf) for m in rows] == [
            ("<a@x>", "pass"),
            ("<b@x>", "softfail"),
            ("<c@x>", "none"),
        ]


def test_config_refuses_a_bad_relay_network(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="trusted_relays: '300.1.2.3/32'"):
        inbound_settings(tmp_path, "sqlite://", trusted_relays=["300.1.2.3/32"])
