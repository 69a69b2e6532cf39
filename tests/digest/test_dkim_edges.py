"""DKIM edges: oversigned headers, and one signer for every mail the product sends."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import dkim
import pytest

from aggregator.config import ConfigError, from_mapping
from aggregator.mail.message import (
    DKIM_OVERSIGNED,
    MessageError,
    build_message,
    dkim_signer,
    sign_dkim,
)
from aggregator.store.db import Database
from tests.digest.test_outbox import T0, Clock, add_stories, make_settings, outbox_for, subscribe
from tests.support.dkimkeys import DKIMKey, make_dkim_key
from tests.support.smtpserver import SMTPTestServer

SELECTOR, DOMAIN = "mail2025", "news.example.org"


@pytest.fixture(scope="module")
def key() -> DKIMKey:
    return make_dkim_key()


def _digest() -> bytes:
    return build_message(
        sender=f"digest@{DOMAIN}",
        recipient="reader@example.com",
        subject="Daily digest",
        text="Three stories today.\n",
        html="<p>Three stories today.</p>\n",
        list_id=f"daily.{DOMAIN}",
        unsubscribe_url=f"https://{DOMAIN}/unsubscribe/abc",
    )


def _signed(key: DKIMKey) -> bytes:
    return sign_dkim(_digest(), SELECTOR, DOMAIN, key.private_pem)


def add_header(message: bytes, line: str, *, at_top: bool) -> bytes:
    """``message`` with a header field added as a relay would: above the others, or below them."""
    if at_top:
        return line.encode() + b"\r\n" + message
    head, body = message.split(b"\r\n\r\n", 1)
    return head + b"\r\n" + line.encode() + b"\r\n\r\n" + body


def signed_header_names(message: bytes) -> Counter[str]:
    """How often each header name is listed in the DKIM-Signature's ``h=`` tag."""
    signature = message.split(b"\r\n\r\n", 1)[0].decode()
    h = re.search(r"\bh=([^;]+);", re.sub(r"\s+", "", signature.split("DKIM-Signature:")[1]))
    assert h, signature
    return Counter(h.group(1).lower().split(":"))


def test_every_listed_header_is_signed_once_more_than_it_occurs(key: DKIMKey) -> None:
    listed = signed_header_names(_signed(key))
    for name in DKIM_OVERSIGNED:
        assert listed[name.lower()] == 2, name  # each occurs once in a digest
    assert listed["mime-version"] == listed["content-type"] == 1


@pytest.mark.parametrize("at_top", [True, False], ids=["above", "below"])
@pytest.mark.parametrize("name", DKIM_OVERSIGNED)
def test_a_header_added_in_transit_fails_verification(
    key: DKIMKey, name: str, at_top: bool
) -> None:
    signed = _signed(key)
    dns = key.dns(SELECTOR, DOMAIN)
    assert dkim.verify(signed, dnsfunc=dns)
    tampered = add_header(signed, f"{name}: added in transit", at_top=at_top)
    assert not dkim.verify(tampered, dnsfunc=dns)


def test_a_relays_trace_header_still_verifies(key: DKIMKey) -> None:
    received = "Received: from relay.example by mx.example; Mon, 30 Nov 2026 10:00:00 +0000"
    signed = add_header(_signed(key), received, at_top=True)
    assert dkim.verify(signed, dnsfunc=key.dns(SELECTOR, DOMAIN))


def test_a_delivered_digest_is_signed_and_oversigned(
    db: Database, key: DKIMKey, tmp_path: Path, smtp_server: Callable[..., SMTPTestServer]
) -> None:
    (tmp_path / "dkim.pem").write_bytes(key.private_pem)
    dkim_section = {"enabled": True, "selector": SELECTOR, "domain": DOMAIN}
    settings = make_settings(tmp_path, dkim=dkim_section | {"private_key_file": "dkim.pem"})
    server = smtp_server(security="none")
    clock = Clock(T0)
    add_stories(db, settings, T0 - timedelta(hours=3), ["Toolkit ships"])
    subscribe(db, "reader@example.com")
    outbox = outbox_for(db, settings, server, clock)
    clock.advance(hours=1, minutes=5)
    assert outbox.start_run("daily", T0 + timedelta(hours=1)) is not None
    assert outbox.deliver().sent == 1
    (received,) = server.messages
    dns = key.dns(SELECTOR, DOMAIN)
    assert dkim.verify(received.data, dnsfunc=dns)
    assert signed_header_names(received.data) == signed_header_names(_signed(key))
    assert not dkim.verify(add_header(received.data, "Subject: Win", at_top=True), dnsfunc=dns)


def test_missing_key_file_is_named_at_load_and_at_start(key: DKIMKey, tmp_path: Path) -> None:
    dkim_section = {"enabled": True, "selector": SELECTOR, "domain": DOMAIN}
    mail = {"dkim": dkim_section | {"private_key_file": "dkim.pem"}}
    with pytest.raises(ConfigError) as caught:
        from_mapping({"mail": mail}, root=tmp_path, origin="config.toml")
    assert caught.value.problems == [
        f"config.toml: mail.dkim.private_key_file: cannot read {tmp_path / 'dkim.pem'}"
    ]
    (tmp_path / "dkim.pem").write_bytes(key.private_pem)
    settings = from_mapping({"mail": mail}, root=tmp_path, origin="config.toml")
    sign = dkim_signer(settings)
    assert sign is not None and dkim.verify(sign(_digest()), dnsfunc=key.dns(SELECTOR, DOMAIN))
    (tmp_path / "dkim.pem").unlink()  # gone after loading: the start fails, naming the key
    with pytest.raises(MessageError, match=r"^mail\.dkim\.private_key_file: cannot read .*dkim"):
        dkim_signer(settings)
    assert dkim_signer(from_mapping({}, root=tmp_path, origin="test")) is None
